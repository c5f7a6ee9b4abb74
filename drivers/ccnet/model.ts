import { noOptions, validatorModel } from '../descriptor.js';

/** The ccnet model: configuration `validator.model: 'ccnet'`. */
export const ccnetModel = validatorModel({ model: 'ccnet', options: noOptions, load: async () => (await import('./index.js')).createCcnet });
