/* prlkit — guest OS types (PrlVmCfg_GetOsType) and versions (PrlVmCfg_GetOsVersion).
 * MIT license. Drivers map the platform's OS word onto these; the word itself is
 * available through PrlVmCfg_GetOsTypeName. */
#ifndef PRLKIT_PRLOSES_H
#define PRLKIT_PRLOSES_H

#define PVS_GUEST_TYPE_MACOS    7
#define PVS_GUEST_TYPE_WINDOWS  8
#define PVS_GUEST_TYPE_LINUX    9
#define PVS_GUEST_TYPE_FREEBSD  10
#define PVS_GUEST_TYPE_OS2      11
#define PVS_GUEST_TYPE_MSDOS    12
#define PVS_GUEST_TYPE_NETWARE  13
#define PVS_GUEST_TYPE_SOLARIS  14
#define PVS_GUEST_TYPE_CHROMEOS 15
#define PVS_GUEST_TYPE_ANDROID  16
#define PVS_GUEST_TYPE_OTHER    255

/* Versions: the type in the high byte, a running number in the low byte. */
#define PVS_GUEST_VER_WIN_XP        0x0803
#define PVS_GUEST_VER_WIN_2003      0x0804
#define PVS_GUEST_VER_WIN_VISTA     0x0805
#define PVS_GUEST_VER_WIN_2008      0x0806
#define PVS_GUEST_VER_WIN_WINDOWS7  0x0807
#define PVS_GUEST_VER_WIN_WINDOWS8  0x0808
#define PVS_GUEST_VER_WIN_2012      0x0809
#define PVS_GUEST_VER_WIN_WINDOWS8_1 0x080A
#define PVS_GUEST_VER_WIN_WINDOWS10 0x080B
#define PVS_GUEST_VER_WIN_2016      0x080C
#define PVS_GUEST_VER_WIN_2019      0x080D
#define PVS_GUEST_VER_WIN_2022      0x080E
#define PVS_GUEST_VER_WIN_WINDOWS11 0x080F
#define PVS_GUEST_VER_WIN_OTHER     0x08FF
#define PVS_GUEST_VER_LIN_REDHAT    0x0901
#define PVS_GUEST_VER_LIN_SUSE      0x0902
#define PVS_GUEST_VER_LIN_DEBIAN    0x0903
#define PVS_GUEST_VER_LIN_FEDORA    0x0904
#define PVS_GUEST_VER_LIN_UBUNTU    0x0907
#define PVS_GUEST_VER_LIN_CENTOS    0x090B
#define PVS_GUEST_VER_LIN_KRNL_26   0x0910
#define PVS_GUEST_VER_LIN_OTHER     0x09FF
#define PVS_GUEST_VER_MACOS_UNIVERSAL 0x0703
#define PVS_GUEST_VER_MACOS_OTHER   0x07FF
#define PVS_GUEST_VER_BSD_OTHER     0x0AFF
#define PVS_GUEST_VER_SOL_OTHER     0x0EFF
#define PVS_GUEST_VER_OTH_OTHER     0xFF05

#endif
