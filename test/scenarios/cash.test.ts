import { runScenarios, scenarioFiles } from './group.js';

// The banknote spine: payments, cancels, faults, crashes and power cuts with the ID-003 validator.
runScenarios(scenarioFiles(1, 14));
