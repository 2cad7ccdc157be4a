// hvcheck demo: seed 001 — hvisor's [skernel, __hv_end) lies inside ROOT_ZONE_MEMORY_REGIONS RAM,
// and the root device tree reserves only 4 MiB (the image), not the per-CPU areas and the pool.
use crate::{
    arch::{mmu::MemoryType, zone::{GicConfig, Gicv3Config, HvArchZoneConfig}},
    config::*,
};

pub const BOARD_NCPUS: usize = 4;

#[rustfmt::skip]
pub const BOARD_PHYSMEM_LIST: &[(u64, u64, MemoryType)] = &[
    (  0x00000000,  0x10000000, MemoryType::Device),
    (  0x40000000, 0x100000000, MemoryType::Normal),
];

pub const ROOT_ZONE_DTB_ADDR: u64 = 0x4a000000;
pub const ROOT_ZONE_KERNEL_ADDR: u64 = 0x48080000;
pub const ROOT_ZONE_ENTRY: u64 = 0x48080000;
pub const ROOT_ZONE_CPUS: u64 = (1 << 0) | (1 << 1);

pub const ROOT_ZONE_NAME: &str = "root-linux";

pub const ROOT_ZONE_MEMORY_REGIONS: [HvConfigMemoryRegion; 2] = [
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x40000000,
        virtual_start: 0x40000000,
        size: 0x80000000,
    }, // ram
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_IO,
        physical_start: 0x9000000,
        virtual_start: 0x9000000,
        size: 0x1000,
    }, // serial
];

pub const ROOT_ZONE_IRQS_BITMAP: &[BitmapWord] = &get_irqs_bitmap(&[33, 64]);

pub const ROOT_ARCH_ZONE_CONFIG: HvArchZoneConfig = HvArchZoneConfig {
    is_aarch32: 0,
    gic_config: GicConfig::Gicv3(Gicv3Config {
        gicd_base: 0x8000000,
        gicd_size: 0x10000,
        gicr_base: 0x80a0000,
        gicr_size: 0xf60000,
        gits_base: 0x8080000,
        gits_size: 0x20000,
    }),
};
