import { Flags } from "@oclif/core";

/** `--profile NAME` (or `$PKG_PROFILE`) of the commands that change or show a profile: Nix's `--profile`, by name. */
export const profileFlags = {
  profile: Flags.string({
    summary: "The profile to use: <profiles dir>/NAME (letters, digits, '_', '-', '.').",
    env: "PKG_PROFILE",
    default: "default",
    helpValue: "NAME",
  }),
};
