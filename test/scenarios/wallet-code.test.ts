import { noCardData } from './card-scan.js';
import { runScenarios, scenarioFiles } from './group.js';

// Wallet payments by the customer's payment code, shown to the scanner emulator: each gateway
// behaviour, a code of no wallet, SIGKILL after the request and while the customer confirms, a
// late payment after the revoke. Each scenario's files are then scanned for card data and codes.
runScenarios(scenarioFiles(90, 99), undefined, noCardData);
