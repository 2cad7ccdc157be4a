// hvcheck fixture: the memory-type constants of hvisor's src/config.rs
pub const MEM_TYPE_RAM: u32 = 0;
pub const MEM_TYPE_IO: u32 = 1;
pub const MEM_TYPE_VIRTIO: u32 = 2;

pub const CONFIG_MAX_MEMORY_REGIONS: usize = 64;
