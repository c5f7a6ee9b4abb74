import { runScenarios, scenarioFiles } from './group.js';

// The banknote scenarios, unchanged, against the eSSP emulator; then the eSSP-only ones.
runScenarios([...scenarioFiles(1, 14, 'essp'), ...scenarioFiles(50, 59, 'essp')], 'essp');
