//go:build linux

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
	return uint64(st.Dev), st.Ino, st.Ctim.Nano() // #nosec G115 -- Dev is unsigned already on Linux; the conversion is for 32-bit platforms
}
