/**
 * Which user model answers (`--user-model auto|network|glm`). `auto`, the commands' default,
 * takes the one that predicted the checkpoint's validation tuples better: the discriminator's
 * calibrated validation log-loss (config.json's `calibration.validation.after`) against the
 * structured model's held-out one (glm.json's `heldout.log_loss`), both recorded by
 * `recsimu train` on the same tuples. A checkpoint with only one of them answers with the
 * network. On the truth worlds and mind_small_subset this picks the GLM, on ml100k mostly the
 * network (docs/fidelity.md).
 * @module
 */
import { loadCheckpointMeta, readOptionalCheckpointJson } from "../train/checkpoint.ts";
import { GLM_FILE } from "../train/glm_features.ts";
import type { UserModelName } from "./types.ts";

/** What `--user-model` may ask for: a user model, or `auto`. */
export const USER_MODEL_REQUESTS = ["auto", "network", "glm"] as const;
/** One of {@link USER_MODEL_REQUESTS}. */
export type UserModelRequest = typeof USER_MODEL_REQUESTS[number];

/** The choice and its evidence, as `GET /v1/model` reports it (`model.user_model_choice`). */
export interface UserModelChoice {
  requested: UserModelRequest;
  chosen: UserModelName;
  /** The discriminator's calibrated validation log-loss; null when not recorded. */
  network_log_loss: number | null;
  /** The structured model's held-out log-loss on the same tuples; null without one. */
  glm_log_loss: number | null;
}

/**
 * Resolves `requested` for the checkpoint in `dir`: `network` and `glm` are taken as asked
 * (nothing is read, so a broken glm.json never stops `network`); `auto` reads config.json and
 * glm.json (checks nothing else: loading does).
 *
 * @example
 * ```ts ignore
 * const c = await chooseUserModel("runs/demo/model", "auto");
 * c.chosen; // "glm" when its validation log-loss is the lower
 * ```
 */
export async function chooseUserModel(
  dir: string,
  requested: UserModelRequest,
): Promise<UserModelChoice> {
  if (requested !== "auto") {
    return { requested, chosen: requested, network_log_loss: null, glm_log_loss: null };
  }
  const meta = await loadCheckpointMeta(dir);
  const after = meta.calibration?.validation?.after?.logLoss;
  const network = typeof after === "number" && Number.isFinite(after) ? after : null;
  const read = await readOptionalCheckpointJson(dir, GLM_FILE);
  const heldout = (read?.data as { heldout?: { log_loss?: unknown } } | undefined)?.heldout;
  const glm = typeof heldout?.log_loss === "number" && Number.isFinite(heldout.log_loss)
    ? heldout.log_loss
    : null;
  return {
    requested,
    chosen: autoUserModel(network, glm),
    network_log_loss: network,
    glm_log_loss: glm,
  };
}

/**
 * `auto`'s rule: the GLM when both validation log-losses are known and the GLM's is lower;
 * otherwise the network (a tie, or a checkpoint that lacks one of them).
 *
 * @example
 * ```ts
 * import { autoUserModel } from "./user_model.ts";
 * autoUserModel(0.669, 0.656); // "glm"
 * autoUserModel(0.574, 0.580); // "network"
 * autoUserModel(0.574, null); // "network": no glm.json
 * ```
 */
export function autoUserModel(network: number | null, glm: number | null): UserModelName {
  return network !== null && glm !== null && glm < network ? "glm" : "network";
}
