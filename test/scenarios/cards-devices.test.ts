import { noCardData } from './card-scan.js';
import { runScenarios, scenarioFiles } from './group.js';

// Card payments, the devices' side: a reader sending garbage, the payment terminal (approved,
// declined, silent after the PIN, approval dropped and reversed), degraded modes. Each scenario's
// files are then scanned for card data.
runScenarios(scenarioFiles(65, 69), undefined, noCardData);
