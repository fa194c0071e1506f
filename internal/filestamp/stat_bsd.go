//go:build darwin || freebsd || netbsd

package filestamp

import (
	"io/fs"
	"syscall"
)

// sysStamp returns the device, inode and inode change time of fi.
func sysStamp(fi fs.FileInfo) (dev, ino uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino), st.Ctimespec.Nano() // #nosec G115 -- a device number is an identifier compared for equality only: its sign does not matter
}
