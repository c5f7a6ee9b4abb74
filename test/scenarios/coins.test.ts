import { runScenarios, scenarioFiles } from './group.js';

// Coins in, change out of the hoppers, receipts.
runScenarios(scenarioFiles(15, 23));
