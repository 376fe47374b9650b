/**
 * The baselines' fit functions, one name each: what the experiment runner dispatches to.
 * @module
 */
export { trainGan, trainGanS, trainGru, trainLR, trainRandom } from "./fit_classifiers.ts";
export { trainFM, trainGru4Rec, trainWideDeep } from "./fit_rankers.ts";
