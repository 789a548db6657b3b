// The public API of the containerfile module: parse a Containerfile into typed instructions with
// source positions, expand variables with the Dockerfile lexer rules, and plan the stage graph.
export * from './model.js';
export { parseCheckDirective, parseContainerfile, parseInstructionLine } from './parse.js';
export { expandHeredocBody, expandWord, expandWords, type ExpandOptions, type VarLookup } from './expand.js';
export { chompHeredoc, heredocBody, parseHeredocWord, type HeredocWord } from './heredoc.js';
export { planBuild, type BuildPlan, type PlanOptions, type StageBase, type StagePlan } from './plan.js';
export { parseDuration } from './duration.js';
