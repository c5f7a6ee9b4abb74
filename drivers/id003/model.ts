import { noOptions, validatorModel } from '../descriptor.js';

/** The id003 model: configuration `validator.model: 'id003'`. */
export const id003Model = validatorModel({ model: 'id003', options: noOptions, load: async () => (await import('./index.js')).createId003 });
