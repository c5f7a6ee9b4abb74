import { noCardData } from './card-scan.js';
import { runScenarios, scenarioFiles } from './group.js';

// Card payments through the stripe reader: approved, declined then cash, time-out and dropped link
// reversed, SIGKILL during authorisation. Each scenario's files are then scanned for card data.
runScenarios(scenarioFiles(60, 64), undefined, noCardData);
