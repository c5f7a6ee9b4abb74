import { runScenarios, scenarioFiles } from './group.js';

// Store-and-forward over the business link: outages, dropped answers, kills, restarts, certificates.
runScenarios(scenarioFiles(24, 39));
