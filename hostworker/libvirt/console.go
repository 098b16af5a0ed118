//go:build libvirt

package libvirt

import (
	"context"
	"fmt"
	"net/netip"

	virt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// vncOf returns x's VNC display, or nil.
func vncOf(x *libvirtxml.Domain) *libvirtxml.DomainGraphicVNC {
	if x.Devices == nil {
		return nil
	}
	for i := range x.Devices.Graphics {
		if vnc := x.Devices.Graphics[i].VNC; vnc != nil {
			return vnc
		}
	}
	return nil
}

// vncListen is the address a VNC display listens on.
func vncListen(vnc *libvirtxml.DomainGraphicVNC) string {
	for _, l := range vnc.Listeners {
		if l.Address != nil && l.Address.Address != "" {
			return l.Address.Address
		}
	}
	if vnc.Listen != "" {
		return vnc.Listen
	}
	return "0.0.0.0"
}

// VMConsole reads the VNC display of the running domain: the port libvirt
// gave it (autoport) and the address it listens on.
func (d *Driver) VMConsole(_ context.Context, vmUUID string) (hostapi.VMConsole, error) {
	var out hostapi.VMConsole
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		s, err := state(dom)
		if err != nil {
			return "", err
		}
		if powerState(s) == hostapi.PowerStopped {
			return "", models.Conflict("vm %s is stopped: its console is closed", vmUUID)
		}
		x, err := domainXML(dom, 0)
		if err != nil {
			return "", err
		}
		vnc := vncOf(x)
		switch {
		case vnc == nil:
			return "", models.Conflict("vm %s has no vnc console (defined before consoles were added: restart it)", vmUUID)
		case vnc.Port <= 0:
			return "", fmt.Errorf("vm %s: vnc port not assigned yet (%d)", vmUUID, vnc.Port)
		}
		out = hostapi.VMConsole{Protocol: hostapi.ConsoleVNC, Host: vncListen(vnc), Port: vnc.Port}
		return "", nil
	})
	if err != nil {
		return hostapi.VMConsole{}, fail("vm console", err)
	}
	return out, nil
}

// SetVMConsolePassword changes the VNC password in the domain's definition
// and, when it runs with a password, of the running display (new
// connections need the new one at once); it reports whether the running
// display took it. A definition or display that has the password already
// is left alone. QEMU fixes a display's authentication when it starts: it
// refuses to give an open display a password ("Could not set password")
// and refuses every login to a password display whose password is empty.
// So adding a password to an open running display, or removing one, changes
// only the definition and takes effect on the next start, as ZStack's
// Set/DeleteVmConsolePassword do.
func (d *Driver) SetVMConsolePassword(_ context.Context, vmUUID, password string) (bool, error) {
	if err := hostapi.ValidateConsolePassword(password); err != nil {
		return false, fail("set console password", err)
	}
	live := false
	_, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		var err error
		live, err = setConsolePassword(dom, vmUUID, password)
		return "", err
	})
	if err != nil {
		return false, fail("set console password", err)
	}
	return live, nil
}

func setConsolePassword(dom *virt.Domain, vmUUID, password string) (bool, error) {
	// The definition: redefined with the new password (the test and qemu
	// drivers both accept a redefinition; not every driver updates
	// graphics in the config).
	def, err := domainXML(dom, virt.DOMAIN_XML_INACTIVE|virt.DOMAIN_XML_SECURE)
	if err != nil {
		return false, err
	}
	vnc := vncOf(def)
	if vnc == nil {
		return false, models.Conflict("vm %s has no vnc console (defined before consoles were added: restart it)", vmUUID)
	}
	if vnc.Passwd != password {
		vnc.Passwd = password
		doc, err := def.Marshal()
		if err != nil {
			return false, fmt.Errorf("marshal domain: %w", err)
		}
		c, err := dom.DomainGetConnect()
		if err != nil {
			return false, fmt.Errorf("domain connection: %w", err)
		}
		defer func() { _, _ = c.Close() }() // releases the reference only
		nd, err := c.DomainDefineXML(doc)
		if err != nil {
			return false, fmt.Errorf("redefine domain with console password: %w", err)
		}
		_ = nd.Free()
	}
	active, err := dom.IsActive()
	if err != nil {
		return false, fmt.Errorf("domain active: %w", err)
	}
	if !active || password == "" {
		return false, nil
	}
	running, err := domainXML(dom, virt.DOMAIN_XML_SECURE)
	if err != nil {
		return false, err
	}
	vnc = vncOf(running)
	if vnc == nil {
		return false, models.Conflict("running vm %s has no vnc console (started before consoles were added: restart it)", vmUUID)
	}
	switch vnc.Passwd {
	case password:
		return true, nil
	case "":
		return false, nil // an open display cannot gain a password live
	}
	vnc.Passwd = password
	doc, err := (&libvirtxml.DomainGraphic{VNC: vnc}).Marshal()
	if err != nil {
		return false, fmt.Errorf("marshal vnc graphics: %w", err)
	}
	if err := dom.UpdateDeviceFlags(doc, virt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
		return false, fmt.Errorf("update running vnc password: %w", err)
	}
	return true, nil
}
