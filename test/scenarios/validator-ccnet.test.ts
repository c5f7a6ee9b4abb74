import { runScenarios, scenarioFiles } from './group.js';

// The banknote scenarios, unchanged, against the CCNET emulator; then the CCNET-only ones.
runScenarios([...scenarioFiles(1, 14, 'ccnet'), ...scenarioFiles(50, 59, 'ccnet')], 'ccnet');
