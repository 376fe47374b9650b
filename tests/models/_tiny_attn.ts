/**
 * The tiny attention discriminator the model tests share: state length N, batch B, item2vec
 * width E, K classes and V items.
 * @module
 */
import type { AttnDiscriminatorSizes } from "../../models/attn_discriminator.ts";

export const N = 4, B = 3, E = 5, K = 3, V = 7;

/** The tiny discriminator's sizes, with `over` replacing any of them. */
export function tinyAttnSizes(over: Partial<AttnDiscriminatorSizes> = {}): AttnDiscriminatorSizes {
  return {
    embDim: E,
    classes: K,
    feedbackDim: 3,
    hidden: 6,
    fc: 8,
    fakeClasses: K,
    items: V,
    itemDim: 4,
    heads: 2,
    stateLength: N,
    ...over,
  };
}
