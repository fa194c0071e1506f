//go:build !linux && !darwin && !freebsd && !netbsd

package filestamp

import "io/fs"

// sysStamp: no device, inode or change time here (Windows, say); a
// Stamp is the modification time, size and mode.
func sysStamp(fs.FileInfo) (dev, ino uint64, ctime int64) { return 0, 0, 0 }
