//go:build libvirt

package libvirt

import (
	"bytes"
	"crypto/des"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// errVNCAuth is a VNC server refusing the password.
var errVNCAuth = errors.New("vnc authentication failed")

// vncLogin speaks RFB 3.8 to addr up to the end of the security handshake:
// with an empty password it asks for security type None, otherwise for VNC
// authentication (DES of the server's challenge keyed by the password,
// each key byte bit-reversed, as RFC 6143 §7.2.2 and every VNC client do).
func vncLogin(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	version := make([]byte, 12)
	if _, err := io.ReadFull(c, version); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if !bytes.HasPrefix(version, []byte("RFB ")) {
		return fmt.Errorf("not a vnc server: %q", version)
	}
	if _, err := c.Write([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	n := make([]byte, 1)
	if _, err := io.ReadFull(c, n); err != nil {
		return fmt.Errorf("read security types: %w", err)
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(c, types); err != nil {
		return err
	}
	want := byte(1) // None
	if password != "" {
		want = 2 // VNC authentication
	}
	if !slices.Contains(types, want) {
		return fmt.Errorf("%w: server offers security types %v, not %d", errVNCAuth, types, want)
	}
	if _, err := c.Write([]byte{want}); err != nil {
		return err
	}
	if want == 2 {
		challenge := make([]byte, 16)
		if _, err := io.ReadFull(c, challenge); err != nil {
			return fmt.Errorf("read challenge: %w", err)
		}
		key := make([]byte, 8)
		copy(key, password)
		for i := range key {
			key[i] = bits.Reverse8(key[i])
		}
		block, err := des.NewCipher(key)
		if err != nil {
			return err
		}
		resp := make([]byte, 16)
		block.Encrypt(resp[:8], challenge[:8])
		block.Encrypt(resp[8:], challenge[8:])
		if _, err := c.Write(resp); err != nil {
			return err
		}
	}
	result := make([]byte, 4)
	if _, err := io.ReadFull(c, result); err != nil {
		return fmt.Errorf("read security result: %w", err)
	}
	if !bytes.Equal(result, []byte{0, 0, 0, 0}) {
		return errVNCAuth
	}
	return nil
}

// TestGuestConsolePassword runs a real QEMU guest with a VNC console on
// 127.0.0.1 and a password, reads the address from the live domain and
// logs in with the RFB protocol; the password is changed while it runs (the
// old one refused, the new one accepted at once) and removed (the
// definition loses it, the display opens at the next start).
func TestGuestConsolePassword(t *testing.T) {
	needSystemLibvirt(t)
	url := imageURL(t, "")
	dir := traversableDir(t)
	d, err := New(Config{URI: systemURI, StorageDir: filepath.Join(dir, "ps"), ImageCacheDir: filepath.Join(dir, "imagecache"),
		Grace: 20 * time.Second, VNCListen: "127.0.0.1"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ctx := t.Context()
	vm := guestVM(t, url)
	vm.ConsolePassword = "s3cret"
	_, err = d.InstantiateVolume(ctx, vm.RootVolume)
	require.NoError(t, err)
	t.Cleanup(func() { removeGuest(t, d, vm) })
	st, err := d.CreateVM(ctx, vm, true)
	require.NoError(t, err)
	require.Equal(t, hostapi.PowerRunning, st)

	con, err := d.VMConsole(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, hostapi.ConsoleVNC, con.Protocol)
	require.Equal(t, "127.0.0.1", con.Host)
	require.GreaterOrEqual(t, con.Port, 5900)
	addr := net.JoinHostPort(con.Host, strconv.Itoa(con.Port))
	require.NoError(t, vncLogin(addr, "s3cret"))
	require.ErrorIs(t, vncLogin(addr, "wrong"), errVNCAuth)
	require.ErrorIs(t, vncLogin(addr, ""), errVNCAuth)

	live, err := d.SetVMConsolePassword(ctx, vm.UUID, "n3w")
	require.NoError(t, err)
	require.True(t, live, "a password display takes a new password at once")
	live, err = d.SetVMConsolePassword(ctx, vm.UUID, "n3w")
	require.NoError(t, err, "setting it again succeeds")
	require.True(t, live)
	require.ErrorIs(t, vncLogin(addr, "s3cret"), errVNCAuth)
	require.NoError(t, vncLogin(addr, "n3w"))
	def := liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE|virt.DOMAIN_XML_SECURE)
	require.Equal(t, "n3w", vncOf(def).Passwd, "the definition keeps the new password")

	// Removal reaches the definition; the running display keeps its
	// password until the next start (QEMU cannot drop VNC auth live).
	live, err = d.SetVMConsolePassword(ctx, vm.UUID, "")
	require.NoError(t, err)
	require.False(t, live)
	def = liveDomain(t, systemURI, vm.UUID, virt.DOMAIN_XML_INACTIVE|virt.DOMAIN_XML_SECURE)
	require.Empty(t, vncOf(def).Passwd)
	require.NoError(t, vncLogin(addr, "n3w"))
	again, err := d.VMConsole(ctx, vm.UUID)
	require.NoError(t, err)
	require.Equal(t, con, again, "the port stays while the domain runs")

	// Restarted from its definition, the display is open.
	_, err = d.StopVM(ctx, vm.UUID, "cold", 0)
	require.NoError(t, err)
	_, err = d.StartVM(ctx, vm)
	require.NoError(t, err)
	con, err = d.VMConsole(ctx, vm.UUID)
	require.NoError(t, err)
	require.NoError(t, vncLogin(net.JoinHostPort(con.Host, strconv.Itoa(con.Port)), ""))
}

// TestConsoleOnTestDriver covers what the test driver can: the VNC display
// in the definition, the password changed in a stopped domain's
// definition, and the errors.
func TestConsoleOnTestDriver(t *testing.T) {
	d := newTestDriver(t)
	ctx := t.Context()
	vm := testVM(t, d)
	vm.ConsolePassword = "pw1"
	_, err := d.CreateVM(ctx, vm, false)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.DestroyVM(ctx, vm.UUID) })
	c := rawConn(t)
	def := func() string {
		dashed := vm.UUID[0:8] + "-" + vm.UUID[8:12] + "-" + vm.UUID[12:16] + "-" + vm.UUID[16:20] + "-" + vm.UUID[20:]
		dom, err := c.LookupDomainByUUIDString(dashed)
		require.NoError(t, err)
		defer func() { _ = dom.Free() }()
		x, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE|virt.DOMAIN_XML_SECURE)
		require.NoError(t, err)
		vnc := vncOf(x)
		require.NotNil(t, vnc, "the domain has a vnc display")
		require.Equal(t, "0.0.0.0", vncListen(vnc))
		return vnc.Passwd
	}
	require.Equal(t, "pw1", def())

	_, err = d.VMConsole(ctx, vm.UUID)
	require.ErrorIs(t, err, models.ErrConflict, "a stopped domain has no open console")

	live, err := d.SetVMConsolePassword(ctx, vm.UUID, "pw2")
	require.NoError(t, err)
	require.False(t, live, "a stopped domain has no display to change")
	require.Equal(t, "pw2", def())
	_, err = d.SetVMConsolePassword(ctx, vm.UUID, "")
	require.NoError(t, err)
	require.Empty(t, def())

	_, err = d.SetVMConsolePassword(ctx, vm.UUID, "toolongpw")
	require.ErrorIs(t, err, models.ErrInvalid)
	_, err = d.SetVMConsolePassword(ctx, newUUID(t), "x")
	require.ErrorIs(t, err, models.ErrNotFound)
	_, err = d.VMConsole(ctx, newUUID(t))
	require.ErrorIs(t, err, models.ErrNotFound)
}
