package models

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// NewUUID returns a ZStack-style UUID: 32 lowercase hex characters, version 4,
// without dashes.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return hex.EncodeToString(b[:])
}

// NameUUID derives a stable UUID from its parts, so that retried inserts of
// the same logical row collide on the primary key instead of duplicating it
// (ZStack does the same for used IPs).
func NameUUID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// IsUUID reports whether s looks like a ZStack UUID.
func IsUUID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
