/*
 * A miniature KVM x86 ioctl layer, written for the hvcheck demo (seed 000).
 * Two dispatchers end with the same `case KVM_GET_SUPPORTED_HV_CPUID:` arm:
 * the system one (/dev/kvm) and the vCPU one. A hunk anchored on that arm
 * applies to either.
 */
#include "kvm_mini.h"

static u64 supported_xcr0 = XFEATURE_MASK_FPSSE | XFEATURE_MASK_YMM;

static int get_msr_index_list(void __user *argp)
{
	return copy_to_user(argp, msr_list, sizeof(msr_list)) ? -EFAULT : 0;
}

static int get_supported_hv_cpuid(struct kvm_vcpu *vcpu, void __user *argp)
{
	if (!argp)
		return -EINVAL;
	return fill_hv_cpuid(vcpu, argp);
}

/* System ioctls: issued on the /dev/kvm file descriptor. */
long kvm_arch_dev_ioctl(struct file *filp, unsigned int ioctl, unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	long r;

	switch (ioctl) {
	case KVM_GET_MSR_INDEX_LIST:
		r = get_msr_index_list(argp);
		break;
	case KVM_GET_SUPPORTED_CPUID:
	case KVM_GET_EMULATED_CPUID:
		r = get_cpuid_entries(ioctl, argp);
		break;
	case KVM_X86_GET_MCE_CAP_SUPPORTED:
		r = put_user(KVM_MCE_CAP_SUPPORTED, (u64 __user *)argp);
		break;
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		r = get_msr_feature_list(argp);
		break;
	case KVM_GET_SUPPORTED_HV_CPUID:
		r = get_supported_hv_cpuid(NULL, argp);
		break;
	default:
		r = -EINVAL;
		break;
	}
	return r;
}

/* vCPU ioctls: issued on a vCPU file descriptor. */
long kvm_arch_vcpu_ioctl(struct file *filp, unsigned int ioctl, unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	void __user *argp = (void __user *)arg;
	long r;

	vcpu_load(vcpu);
	switch (ioctl) {
	case KVM_GET_LAPIC:
		r = vcpu_get_lapic(vcpu, argp);
		break;
	case KVM_SET_LAPIC:
		r = vcpu_set_lapic(vcpu, argp);
		break;
	case KVM_SET_CPUID2:
		r = vcpu_set_cpuid2(vcpu, argp);
		break;
	case KVM_GET_CPUID2:
		r = vcpu_get_cpuid2(vcpu, argp);
		break;
	case KVM_GET_XSAVE:
		r = vcpu_get_xsave(vcpu, argp);
		break;
	case KVM_SET_XSAVE:
		r = vcpu_set_xsave(vcpu, argp);
		break;
	case KVM_GET_XCRS:
		r = vcpu_get_xcrs(vcpu, argp);
		break;
	case KVM_SET_XCRS:
		r = vcpu_set_xcrs(vcpu, argp);
		break;
	case KVM_GET_SUPPORTED_HV_CPUID:
		r = get_supported_hv_cpuid(vcpu, argp);
		break;
	default:
		r = -EINVAL;
		break;
	}
	vcpu_put(vcpu);
	return r;
}
