package imagestore

import (
	"bytes"
	"context"
	"crypto/md5" // ZStack's md5Sum; SHA-256 is kept beside it
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/zcloud/zcloud/activities/bsapi"
)

// qcow2Magic starts every qcow2 file.
var qcow2Magic = []byte("QFI\xfb")

// isoMagic is the ISO 9660 primary volume descriptor's identifier, at
// isoMagicOffset (sector 16, byte 1). qemu-img calls an ISO raw.
var isoMagic = []byte("CD001")

const isoMagicOffset = 0x8001

// otherMagics are disk formats the store refuses. They are recognized by
// their magic rather than by letting qemu-img probe them: a VMDK descriptor
// names extent files, which an opener would read from the agent's disk.
var otherMagics = []struct {
	format string
	magic  []byte
}{
	{"vmdk", []byte("KDMV")},
	{"vmdk", []byte("# Disk DescriptorFile")},
	{"vpc", []byte("conectix")},
	{"vhdx", []byte("vhdxfile")},
	{"vdi", []byte("<<< Oracle VM VirtualBox Disk Image >>>")},
	{"qed", []byte("QED\x00")},
}

// imageInfo is what the store learns of an image file.
type imageInfo struct {
	format      string
	virtualSize int64
}

// qemuInfo is the part of `qemu-img info --output=json` the store reads.
type qemuInfo struct {
	Format              string `json:"format"`
	VirtualSize         int64  `json:"virtual-size"`
	BackingFilename     string `json:"backing-filename"`
	FullBackingFilename string `json:"full-backing-filename"`
	FormatSpecific      struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// badImageError is content that is no usable image; it is not retried.
type badImageError struct{ msg string }

func (e *badImageError) Error() string { return e.msg }

func badImage(format string, args ...any) error {
	return &badImageError{msg: fmt.Sprintf(format, args...)}
}

func isBadImage(err error) bool {
	var b *badImageError
	return errors.As(err, &b)
}

// inspect tells an image's format and virtual size. A qcow2 is read by
// qemu-img with its format forced (no probing) and refused when it has a
// backing file or an external data file: either would let the image read
// any file on the host that uses it. Files without a known magic are raw,
// or ISO when they carry the ISO 9660 identifier.
func inspect(ctx context.Context, path string) (imageInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return imageInfo{}, fmt.Errorf("inspect image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return imageInfo{}, fmt.Errorf("inspect image: %w", err)
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return imageInfo{}, fmt.Errorf("inspect image: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return imageInfo{}, badImage("image is empty")
	}
	if bytes.HasPrefix(head, qcow2Magic) {
		return inspectQCOW2(ctx, path)
	}
	for _, o := range otherMagics {
		if bytes.HasPrefix(head, o.magic) {
			return imageInfo{}, badImage("image format %s is not supported: only qcow2, raw and iso", o.format)
		}
	}
	format := bsapi.FormatRaw
	magic := make([]byte, len(isoMagic))
	if _, err := f.ReadAt(magic, isoMagicOffset); err == nil && bytes.Equal(magic, isoMagic) {
		format = bsapi.FormatISO
	}
	return imageInfo{format: format, virtualSize: st.Size()}, nil
}

// inspectTimeout bounds qemu-img on a (possibly hostile) image header.
const inspectTimeout = time.Minute

func inspectQCOW2(ctx context.Context, path string) (imageInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-img", "info", "-f", "qcow2", "--output=json", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return imageInfo{}, ctx.Err()
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return imageInfo{}, badImage("qcow2 image is unreadable: %s", strings.TrimSpace(stderr.String()))
		}
		return imageInfo{}, fmt.Errorf("qemu-img info: %w", err)
	}
	var info qemuInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info: %w", err)
	}
	switch {
	case info.Format != bsapi.FormatQCOW2:
		return imageInfo{}, fmt.Errorf("qemu-img info -f qcow2 reported format %q", info.Format)
	case info.BackingFilename != "" || info.FullBackingFilename != "":
		return imageInfo{}, badImage("qcow2 image has a backing file %q", info.BackingFilename)
	case info.FormatSpecific.Data.DataFile != "":
		return imageInfo{}, badImage("qcow2 image has an external data file %q", info.FormatSpecific.Data.DataFile)
	case info.VirtualSize <= 0:
		return imageInfo{}, badImage("qcow2 image has virtual size %d", info.VirtualSize)
	}
	return imageInfo{format: bsapi.FormatQCOW2, virtualSize: info.VirtualSize}, nil
}

// hasher computes the MD5 (ZStack's md5Sum) and SHA-256 of what is written
// to it.
type hasher struct {
	md5, sha hash.Hash
	w        io.Writer
}

func newHasher() *hasher {
	h := &hasher{md5: md5.New(), sha: sha256.New()}
	h.w = io.MultiWriter(h.md5, h.sha)
	return h
}

func (h *hasher) Write(p []byte) (int, error) { return h.w.Write(p) }

func (h *hasher) sums() (md5Hex, sha256Hex string) {
	return hex.EncodeToString(h.md5.Sum(nil)), hex.EncodeToString(h.sha.Sum(nil))
}

// copyBuf is the size of the chunks copied between origin, file and hashes.
const copyBuf = 1 << 20

// copyCtx copies r to w until EOF or until ctx ends.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, copyBuf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
