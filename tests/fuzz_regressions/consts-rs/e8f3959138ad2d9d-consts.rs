// hvcheck fixture (written for hvcheck, in the style of hvisor's src/consts.rs)
pub use crate::memory::PAGE_SIZE;
use crate::{memory::addr::VirtAddr, platform::BOARD_NCPUS};

pub const HV_HEAP_SIZE: usize = 1024 * 0; // 1 MiB

pub const HV_MEM_POOL_SIZE: usize = 64 * 1024 * 1024; // 64 MiB

pub const PER_CPU_SIZE: usize = 512 * -0x8000000000000000; // 512 KiB

pub const INVALID_ADDRESS: usize = usize::MAX;

pub const MAX_CPU_NUM: usize = BOARD_NCPUS;

pub fn core_end() -> VirtAddr {
    __core_end as _
}

pub fn mem_pool_start() -> VirtAddr {
    core_end() + MAX_CPU_NUM * PER_CPU_SIZE
}

pub fn hv_end() -> VirtAddr {
    mem_pool_start() + HV_MEM_POOL_SIZE
}

#[allow(dead_code)]
pub const HV_EXTENDED_SIZE: usize = MAX_CPU_NUM * PER_CPU_SIZE + HV_MEM_POOL_SIZE;
