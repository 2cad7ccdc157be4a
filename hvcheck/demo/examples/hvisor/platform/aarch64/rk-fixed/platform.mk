# hvcheck fixture board: the seed-001 incident (hypervisor inside the root zone's RAM)
zone0_dtb := $(image_dir)/dts/zone0_stomp.dtb
