/**
 * The baselines' fit functions, one name each: what the experiment runner dispatches to.
 * @module
 */
export { trainRandom } from "../../models/baselines/random.ts";
export { trainLR } from "../../models/baselines/lr.ts";
export { trainGru } from "../../models/baselines/gru.ts";
export { trainGan, trainGanS } from "../../models/baselines/gan.ts";
export { trainFM } from "../../models/baselines/fm.ts";
export { trainWideDeep } from "../../models/baselines/wide_deep.ts";
export { trainGru4Rec } from "../../models/baselines/gru4rec.ts";
