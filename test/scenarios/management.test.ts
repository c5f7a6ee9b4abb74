import { runScenarios, scenarioFiles } from './group.js';

// The management link: remote commands and alarms.
runScenarios(scenarioFiles(40, 49));
