package synth

import (
	"encoding/binary"
	"encoding/hex"
)

// Names, UIDs and hashes are derived from an object's identity with a
// seeded hash rather than drawn from the plan's random source, so that
// rendering stays a pure function of the plan and can run in parallel.

// hash64 is FNV-1a over the parts, separated, then mixed with the seed
// (splitmix64 finalizer).
func hash64(seed uint64, parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range parts {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	h ^= seed
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// safeAlphabet is the alphabet Kubernetes uses for generated name suffixes
// and pod-template-hash values (no vowels, no look-alikes).
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func suffix(h uint64, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = safeAlphabet[h%uint64(len(safeAlphabet))]
		h /= uint64(len(safeAlphabet))
	}
	return string(b)
}

// podHash is a 10-character pod-template-hash.
func podHash(seed uint64, parts ...string) string { return suffix(hash64(seed, parts...), 10) }

// uid formats a version-4 UUID derived from the parts.
func uid(seed uint64, parts ...string) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], hash64(seed, parts...))
	binary.LittleEndian.PutUint64(b[8:], hash64(seed^0x9e3779b97f4a7c15, parts...))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// digest is 64 hex digits, like a sha256 image or container id.
func digest(seed uint64, parts ...string) string {
	var b [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(b[i*8:], hash64(seed+uint64(i)*0x9e3779b97f4a7c15, parts...))
	}
	return hex.EncodeToString(b[:])
}
