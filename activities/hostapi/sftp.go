package hostapi

import (
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// SftpScheme is the scheme of an image a host fetches from an Sftp backup
// storage over SSH (the SFTP subsystem).
const SftpScheme = "sftp"

// SftpHostKeyParam is the query parameter holding the SHA256 fingerprint
// ("SHA256:...") of the backup storage host's key, which the host verifies.
const SftpHostKeyParam = "hostKey"

// SftpSource is where and how a host fetches an image from an Sftp backup
// storage: sftp://<user>:<sealed key>@<host>:<port>/<path>?hostKey=<fp>.
// The password part is the backup storage's SSH private key (PEM) sealed to
// the fetching host's agent key (models/secret HostSealInfo), so the URL
// travels through workflows with the image's other sources, and
// url.URL.Redacted hides it in logs.
type SftpSource struct {
	User string
	// SealedKey is the private key sealed to the host's agent; empty when
	// the control plane could not seal one.
	SealedKey string
	Host      string
	Port      int
	// Path is the image's absolute file path on the backup storage host.
	Path string
	// HostKey is the SHA256 fingerprint of the backup storage host's key.
	HostKey string
}

// URL renders the source.
func (s SftpSource) URL() string {
	u := url.URL{Scheme: SftpScheme, Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: s.Path,
		RawQuery: url.Values{SftpHostKeyParam: {s.HostKey}}.Encode()}
	if s.SealedKey != "" {
		u.User = url.UserPassword(s.User, s.SealedKey)
	} else {
		u.User = url.User(s.User)
	}
	return u.String()
}

// ParseSftpSource reads an sftp:// image URL. Errors never quote the
// sealed key.
func ParseSftpSource(raw string) (SftpSource, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's error quotes parts of the URL, the key perhaps.
		return SftpSource{}, models.Invalid("image url does not parse as a URL")
	}
	if u.Scheme != SftpScheme {
		return SftpSource{}, models.Invalid("image url %s is not an sftp url", u.Redacted())
	}
	s := SftpSource{Host: u.Hostname(), Path: u.Path, HostKey: u.Query().Get(SftpHostKeyParam)}
	if u.User != nil {
		s.User = u.User.Username()
		s.SealedKey, _ = u.User.Password()
	}
	port := u.Port()
	if port == "" {
		port = "22"
	}
	switch s.Port, err = strconv.Atoi(port); {
	case err != nil || s.Port < 1 || s.Port > 65535:
		return SftpSource{}, models.Invalid("image url %s: bad port %q", u.Redacted(), port)
	case s.User == "" || s.Host == "":
		return SftpSource{}, models.Invalid("image url %s: want sftp://user@host[:port]/path", u.Redacted())
	case !strings.HasPrefix(s.Path, "/") || path.Clean(s.Path) != s.Path:
		return SftpSource{}, models.Invalid("image url %s: the path must be absolute and clean", u.Redacted())
	case !strings.HasPrefix(s.HostKey, "SHA256:"):
		return SftpSource{}, models.Invalid("image url %s: no %s=SHA256:... to verify the backup storage host", u.Redacted(), SftpHostKeyParam)
	}
	return s, nil
}

// Redacted is the URL without the sealed key.
func (s SftpSource) Redacted() string {
	s.SealedKey = ""
	return s.URL()
}
