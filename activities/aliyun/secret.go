package aliyun

import (
	"github.com/zcloud/zcloud/models/secret"
)

// KeySize is the size of the control plane's hybrid secret key.
const KeySize = secret.KeySize

// Secrets protects AccessKey secrets with the control plane's key (package
// models/secret). At rest they are AES-256-GCM ciphertexts; on their way
// from the API to the worker they are sealed with HPKE to a public key
// published in the store, so that no workflow input or history holds a
// secret in clear; only holders of the secret key (the workers) open them.
type Secrets struct {
	cp *secret.ControlPlane
}

// NewSecrets derives the at-rest and sealing keys from a 32-byte key.
func NewSecrets(key []byte) (*Secrets, error) {
	cp, err := secret.NewControlPlane(key)
	if err != nil {
		return nil, err
	}
	return &Secrets{cp: cp}, nil
}

// LoadOrCreateKeyFile reads a 32-byte key file, creating it (mode 0600)
// with a random key when it does not exist.
func LoadOrCreateKeyFile(path string) ([]byte, error) { return secret.LoadOrCreateKeyFile(path) }

// PublicKey is the sealing public key, base64, for the store.
func (s *Secrets) PublicKey() string { return s.cp.PublicKey() }

// Seal seals a secret to a published public key (the API's side).
func Seal(publicKey, plain string) (string, error) {
	return secret.Seal(publicKey, secret.ControlPlaneSealInfo, plain)
}

// open opens a sealed secret.
func (s *Secrets) open(sealed string) (string, error) { return s.cp.Open(sealed) }

// encrypt returns the at-rest form of a secret.
func (s *Secrets) encrypt(plain string) (string, error) { return s.cp.Encrypt(plain) }

// decrypt reverses encrypt.
func (s *Secrets) decrypt(stored string) (string, error) { return s.cp.Decrypt(stored) }
