package aliyun

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

// KeySize is the size of the control plane's hybrid secret key.
const KeySize = 32

const (
	sealInfo   = "zcloud hybrid accesskey secret v1"
	atRestInfo = "zcloud hybrid at-rest v1"
	atRestTag  = "gcm1:"
)

// Secrets protects AccessKey secrets. At rest they are AES-256-GCM
// ciphertexts under a key derived from the control plane's secret key. On
// their way from the API to the worker they are sealed with HPKE to a public
// key published in the store, so that no workflow input or history holds a
// secret in clear; only holders of the secret key (the workers) open them.
type Secrets struct {
	aead cipher.AEAD
	priv hpke.PrivateKey
}

// NewSecrets derives the at-rest and sealing keys from a 32-byte key.
func NewSecrets(key []byte) (*Secrets, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("hybrid secret key: want %d bytes, got %d", KeySize, len(key))
	}
	restKey, err := hkdf.Key(sha256.New, key, nil, atRestInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("hybrid secret key: %w", err)
	}
	block, err := aes.NewCipher(restKey)
	if err != nil {
		return nil, fmt.Errorf("hybrid secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("hybrid secret key: %w", err)
	}
	ikm, err := hkdf.Key(sha256.New, key, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("hybrid secret key: %w", err)
	}
	priv, err := hpke.DHKEM(ecdh.X25519()).DeriveKeyPair(ikm)
	if err != nil {
		return nil, fmt.Errorf("hybrid sealing key: %w", err)
	}
	return &Secrets{aead: aead, priv: priv}, nil
}

// LoadOrCreateKeyFile reads a 32-byte key file, creating it (mode 0600)
// with a random key when it does not exist.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != KeySize {
			return nil, fmt.Errorf("hybrid key file %s: want %d bytes, got %d", path, KeySize, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hybrid key file: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("hybrid key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("hybrid key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return LoadOrCreateKeyFile(path)
		}
		return nil, fmt.Errorf("hybrid key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("hybrid key file: %w", err)
	}
	return key, f.Close()
}

// PublicKey is the sealing public key, base64, for the store.
func (s *Secrets) PublicKey() string {
	return base64.StdEncoding.EncodeToString(s.priv.PublicKey().Bytes())
}

// Seal seals a secret to a published public key (the API's side).
func Seal(publicKey, secret string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(publicKey)
	if err != nil {
		return "", fmt.Errorf("seal secret: bad public key: %w", err)
	}
	pk, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(raw)
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(sealInfo), []byte(secret))
	if err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// open opens a sealed secret.
func (s *Secrets) open(sealed string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("open sealed secret: %w", err)
	}
	pt, err := hpke.Open(s.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(sealInfo), ct)
	if err != nil {
		return "", fmt.Errorf("open sealed secret (was it sealed to another control plane's key?): %w", err)
	}
	return string(pt), nil
}

// encrypt returns the at-rest form of a secret.
func (s *Secrets) encrypt(plain string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt secret: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, []byte(plain), nil)
	return atRestTag + base64.StdEncoding.EncodeToString(ct), nil
}

// decrypt reverses encrypt.
func (s *Secrets) decrypt(stored string) (string, error) {
	b64, ok := strings.CutPrefix(stored, atRestTag)
	if !ok {
		return "", errors.New("decrypt secret: unknown format")
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(ct) < s.aead.NonceSize() {
		return "", errors.New("decrypt secret: corrupt ciphertext")
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, ct[:n], ct[n:], nil)
	if err != nil {
		return "", fmt.Errorf("decrypt secret (wrong hybrid secret key?): %w", err)
	}
	return string(pt), nil
}
