import { noCardData } from './card-scan.js';
import { runScenarios, scenarioFiles } from './group.js';

// Wallet payments: the kiosk's QR code paid, expired and closed, left by the customer; SIGKILL
// after the request and during the query loop; the link down while querying; a close the gateway
// does not take at first. Each scenario's files are then scanned for card data and wallet codes.
runScenarios(scenarioFiles(80, 89), undefined, noCardData);
