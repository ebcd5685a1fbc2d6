// The VM templates a fresh host ships, shaped like xapi's built-in ones: a "disks" recipe in
// other_config that VM.provision turns into VDIs, and default memory/CPU settings.
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

function disks(sizeBytes: number): string {
  return `<provision><disk device="0" size="${sizeBytes}" sr="" bootable="true" type="system"/></provision>`;
}

function template(
  name: string,
  description: string,
  memory: number,
  vcpus: number,
  diskBytes: number,
  hvm: boolean,
) {
  return {
    name_label: name,
    name_description: description,
    memory_static_min: memory,
    memory_static_max: memory,
    memory_dynamic_min: memory,
    memory_dynamic_max: memory,
    memory_target: memory,
    VCPUs_max: vcpus,
    VCPUs_at_startup: vcpus,
    HVM_boot_policy: hvm ? 'BIOS order' : '',
    HVM_boot_params: hvm ? { order: 'cd' } : {},
    PV_bootloader: hvm ? '' : 'pygrub',
    platform: hvm ? { acpi: '1', apic: 'true', pae: 'true', viridian: 'false', nx: 'true' } : {},
    domain_type: hvm ? 'hvm' : 'pv',
    other_config: { default_template: 'true', ...(diskBytes > 0 ? { disks: disks(diskBytes) } : {}) },
    recommendations:
      '<restrictions><restriction field="memory-static-max" max="137438953472"/><restriction field="vcpus-max" max="32"/></restrictions>',
  };
}

export const templates = [
  template(
    'Other install media',
    'Template which allows VM installation from install media',
    256 * MiB,
    1,
    0,
    true,
  ),
  template('Debian Bookworm 12', 'Template for Debian Bookworm 12', 1 * GiB, 1, 10 * GiB, true),
  template('Ubuntu Jammy Jellyfish 22.04', 'Template for Ubuntu 22.04', 2 * GiB, 2, 10 * GiB, true),
  template(
    'Windows 10 (64-bit)',
    'Clones of this template will automatically provision their storage when first booted',
    2 * GiB,
    2,
    32 * GiB,
    true,
  ),
];
