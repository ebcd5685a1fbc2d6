// Minimal valid records for tests that need objects to work on.

const MiB = 1024 * 1024;

/** VM.create arguments for a small VM (256 MiB, one vCPU) named `name`. */
export function vmFields(name: string): Record<string, unknown> {
  return {
    name_label: name,
    memory_static_min: 256 * MiB,
    memory_dynamic_min: 256 * MiB,
    memory_dynamic_max: 256 * MiB,
    memory_static_max: 256 * MiB,
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
  };
}
