// Package secret protects secrets (AccessKey secrets, IPsec pre-shared
// keys) so that none is stored or carried in a workflow in clear.
//
// At rest a secret is an AES-256-GCM ciphertext under a key derived from
// the control plane's 32-byte secret key (Box). On its way to whoever uses
// it, it is sealed with HPKE (X25519, HKDF-SHA256, AES-256-GCM) to a public
// key that the user publishes (Seal); only the holder of the private key
// (KeyPair) opens it.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a secret key (and of a key pair's seed).
const KeySize = 32

// atRestTag prefixes the at-rest form of a secret.
const atRestTag = "gcm1:"

// Box encrypts secrets at rest with AES-256-GCM.
type Box struct {
	aead cipher.AEAD
}

// NewBox derives an at-rest key from a 32-byte key and an info string
// naming its use.
func NewBox(key []byte, info string) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", KeySize, len(key))
	}
	restKey, err := hkdf.Key(sha256.New, key, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	block, err := aes.NewCipher(restKey)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Encrypt returns the at-rest form of a secret (a fresh nonce each time).
func (b *Box) Encrypt(plain string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt secret: %w", err)
	}
	ct := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return atRestTag + base64.StdEncoding.EncodeToString(ct), nil
}

// Decrypt reverses Encrypt.
func (b *Box) Decrypt(stored string) (string, error) {
	b64, ok := strings.CutPrefix(stored, atRestTag)
	if !ok {
		return "", errors.New("decrypt secret: unknown format")
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	n := b.aead.NonceSize()
	if err != nil || len(ct) < n {
		return "", errors.New("decrypt secret: corrupt ciphertext")
	}
	pt, err := b.aead.Open(nil, ct[:n], ct[n:], nil)
	if err != nil {
		return "", fmt.Errorf("decrypt secret (wrong secret key?): %w", err)
	}
	return string(pt), nil
}

// KeyPair is an HPKE X25519 key pair that opens what was sealed to its
// public key.
type KeyPair struct {
	priv hpke.PrivateKey
	info string
}

// NewKeyPair derives a key pair from a 32-byte seed; info names its use
// and must be the one the sealer gives.
func NewKeyPair(seed []byte, info string) (*KeyPair, error) {
	if len(seed) != KeySize {
		return nil, fmt.Errorf("sealing key: want %d bytes, got %d", KeySize, len(seed))
	}
	ikm, err := hkdf.Key(sha256.New, seed, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	priv, err := hpke.DHKEM(ecdh.X25519()).DeriveKeyPair(ikm)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &KeyPair{priv: priv, info: info}, nil
}

// PublicKey is the public key, base64, to publish.
func (k *KeyPair) PublicKey() string {
	return base64.StdEncoding.EncodeToString(k.priv.PublicKey().Bytes())
}

// Open opens a secret sealed to this key pair's public key.
func (k *KeyPair) Open(sealed string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("open sealed secret: %w", err)
	}
	pt, err := hpke.Open(k.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(k.info), ct)
	if err != nil {
		return "", fmt.Errorf("open sealed secret (was it sealed to another key?): %w", err)
	}
	return string(pt), nil
}

// Seal seals a secret to a published public key (base64) for the use
// named by info.
func Seal(publicKey, info, secret string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(publicKey)
	if err != nil {
		return "", fmt.Errorf("seal secret: bad public key: %w", err)
	}
	pk, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(raw)
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(info), []byte(secret))
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// LoadOrCreateKeyFile reads a 32-byte key file, creating it (mode 0600,
// its directory 0700) with a random key when it does not exist.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != KeySize {
			return nil, fmt.Errorf("key file %s: want %d bytes, got %d", path, KeySize, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	// The key is written whole to a temporary file, synced, then linked
	// into place: a reader or a crash never sees a short key file, and a
	// concurrent creator's link fails with ErrExist and reads the winner's.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return LoadOrCreateKeyFile(path)
		}
		return nil, fmt.Errorf("key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the new name durable
		d.Close()
	}
	return key, nil
}

// The uses of the control plane's key and of the hosts' key pairs. The
// control plane's strings are those of the first hybrid release: stored
// secrets and published keys stay valid.
const (
	ControlPlaneSealInfo = "zcloud hybrid accesskey secret v1"
	ControlPlaneRestInfo = "zcloud hybrid at-rest v1"
	HostSealInfo         = "zcloud host secret v1"
)

// ControlPlane is the control plane's secret key: the at-rest box of every
// stored secret and the key pair API servers seal new secrets to.
type ControlPlane struct {
	*Box
	*KeyPair
}

// NewControlPlane derives the control plane's keys from its 32-byte key.
func NewControlPlane(key []byte) (*ControlPlane, error) {
	box, err := NewBox(key, ControlPlaneRestInfo)
	if err != nil {
		return nil, err
	}
	kp, err := NewKeyPair(key, ControlPlaneSealInfo)
	if err != nil {
		return nil, err
	}
	return &ControlPlane{Box: box, KeyPair: kp}, nil
}

// LoadControlPlane builds the control plane's keys from key, or else from
// keyFile (created when missing); with neither it returns nil: no secret
// can then be stored.
func LoadControlPlane(key []byte, keyFile string) (*ControlPlane, error) {
	if len(key) == 0 && keyFile != "" {
		var err error
		if key, err = LoadOrCreateKeyFile(keyFile); err != nil {
			return nil, err
		}
	}
	if len(key) == 0 {
		return nil, nil
	}
	return NewControlPlane(key)
}

// IsEncrypted tells whether s has the at-rest form of Box.Encrypt.
func IsEncrypted(s string) bool { return strings.HasPrefix(s, atRestTag) }
