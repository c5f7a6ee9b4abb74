import { runScenarios, scenarioFiles } from './group.js';

// Faults, crashes and short change told and settled for the customer: fault slips, claims at the
// server, change paid after a restart, owed change credited, a cash count confirming a claim.
runScenarios(scenarioFiles(70, 79));
