//go:build libvirt

package libvirt

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/hostworker/domainxml"
	"github.com/zcloud/zcloud/models"
)

// sftpConnectTimeout bounds the TCP connect plus the SSH handshake to an
// Sftp backup storage.
const sftpConnectTimeout = 20 * time.Second

// SetSecretOpener gives the driver what opens the secrets the control
// plane sealed to this host's agent (the Sftp backup storages' keys in
// sftp:// image URLs). It is called once, before the agent serves.
func (d *Driver) SetSecretOpener(open func(sealed string) (string, error)) { d.openSecret = open }

// fetchImage is fetch, with the sealed key of an sftp:// source opened
// first: only when an image is fetched, so that a cached image needs no
// key.
func (d *Driver) fetchImage(ctx context.Context, src *url.URL, path string) error {
	if src.Scheme == hostapi.SftpScheme {
		opened, err := d.openSftpSource(src)
		if err != nil {
			return err
		}
		src = opened
	}
	return fetch(ctx, d.http, src, path)
}

// openSftpSource returns src with its password, the sealed key, replaced
// by the opened one (the PEM private key), in memory only: errors and
// logs show src.Redacted().
func (d *Driver) openSftpSource(src *url.URL) (*url.URL, error) {
	s, err := hostapi.ParseSftpSource(src.String())
	if err != nil {
		return nil, err
	}
	switch {
	case s.SealedKey == "":
		return nil, models.Invalid("image %s carries no key: the control plane could not seal the backup storage's key to this host "+
			"(its agent reported no sealing key, or the control plane has no secret key)", s.Redacted())
	case d.openSecret == nil:
		return nil, models.Invalid("image %s: this agent has no sealing key to open the backup storage's key with", s.Redacted())
	}
	key, err := d.openSecret(s.SealedKey)
	if err != nil {
		return nil, models.Invalid("image %s: cannot open the backup storage's key (sealed to another host?): %v", s.Redacted(), err)
	}
	opened := *src
	opened.User = url.UserPassword(s.User, key)
	return &opened, nil
}

// downloadSFTP writes the file of an opened sftp:// source to w over the
// SSH File Transfer Protocol.
func downloadSFTP(ctx context.Context, src *url.URL, w io.Writer) error {
	name := src.Redacted()
	sc, done, err := dialSFTP(ctx, src)
	if err != nil {
		return err
	}
	defer done()
	f, err := sc.Open(src.Path)
	if errors.Is(err, os.ErrNotExist) {
		return models.Invalid("image %s does not exist on the backup storage", name)
	}
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	defer f.Close()
	if _, err := f.WriteTo(w); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("download image %s: %w", name, err)
	}
	return nil
}

// uploadSFTP writes the qcow2 file at local to the path of an opened
// sftp:// destination (created or truncated, so a retry writes it anew),
// hashing it on the way. A failed write removes what it wrote when the
// connection still allows (the workflow's compensation removes it too).
func uploadSFTP(ctx context.Context, dst *url.URL, local string) (hostapi.UploadVolumeImageResult, error) {
	var none hostapi.UploadVolumeImageResult
	name := dst.Redacted()
	in, err := os.Open(local)
	if err != nil {
		return none, fmt.Errorf("open image: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return none, fmt.Errorf("open image: %w", err)
	}
	sc, done, err := dialSFTP(ctx, dst)
	if err != nil {
		return none, err
	}
	defer done()
	out, err := sc.OpenFile(dst.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return none, fmt.Errorf("write image to %s: %w", name, err)
	}
	h := md5.New()
	// A sized reader lets the client send its writes concurrently.
	n, err := out.ReadFrom(io.LimitReader(io.TeeReader(in, h), st.Size()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != st.Size() {
		err = fmt.Errorf("wrote %d of %d bytes", n, st.Size())
	}
	if err != nil {
		_ = sc.Remove(dst.Path)
		if ctx.Err() != nil {
			return none, ctx.Err()
		}
		return none, fmt.Errorf("write image to %s: %w", name, err)
	}
	return hostapi.UploadVolumeImageResult{Format: domainxml.FormatQCOW2, ActualSize: n, MD5Sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// dialSFTP opens an SFTP session to an opened sftp:// URL, logging in with
// its key and accepting only the backup storage's known host key. done
// closes it; a cancelled ctx closes the connection under a transfer.
func dialSFTP(ctx context.Context, src *url.URL) (sc *sftp.Client, done func(), err error) {
	name := src.Redacted()
	key, _ := src.User.Password()
	signer, err := ssh.ParsePrivateKey([]byte(key))
	if err != nil {
		return nil, nil, models.Invalid("%s: the backup storage's key does not parse: %v", name, err)
	}
	hostKey := src.Query().Get(hostapi.SftpHostKeyParam)
	cfg := &ssh.ClientConfig{
		User: src.User.Username(),
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if fp := ssh.FingerprintSHA256(k); fp != hostKey {
				return fmt.Errorf("backup storage host key %s, want %s", fp, hostKey)
			}
			return nil
		},
		Timeout: sftpConnectTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, sftpConnectTimeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(dctx, "tcp", src.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	// The handshake has no context: a deadline bounds it, and a cancel
	// closes the connection under the transfer.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(sftpConnectTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, src.Host, cfg)
	if err != nil {
		stop()
		conn.Close()
		return nil, nil, fmt.Errorf("%s: ssh: %w", name, err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	sc, err = sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		stop()
		client.Close()
		return nil, nil, fmt.Errorf("%s: sftp: %w", name, err)
	}
	return sc, func() {
		sc.Close()
		client.Close()
		stop()
	}, nil
}
