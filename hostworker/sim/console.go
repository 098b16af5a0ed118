package sim

import (
	"context"
	"fmt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// firstConsolePort is where VNC ports start, as with libvirt's autoport.
const firstConsolePort = 5900

// consoleListen is the address simulated consoles listen on: every address
// of the host, as a libvirt host configured with vnc_listen 0.0.0.0.
const consoleListen = "0.0.0.0"

// VMConsole reports the VNC console of a running or paused domain. Each
// running domain holds a port from 5900 up, the lowest free one when it is
// first asked for, until it stops or goes away.
func (d *Driver) VMConsole(ctx context.Context, vmUUID string) (hostapi.VMConsole, error) {
	if vmUUID == "" {
		return hostapi.VMConsole{}, fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := d.begin(ctx, hostapi.ActGetVMConsole); err != nil {
		return hostapi.VMConsole{}, err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	switch {
	case !ok:
		return hostapi.VMConsole{}, fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	case vm.State == hostapi.PowerStopped:
		return hostapi.VMConsole{}, fmt.Errorf("sim: %w", models.Conflict("vm %s is stopped: its console is closed", vmUUID))
	}
	used := map[int]bool{}
	for uuid, port := range d.consolePorts {
		if other, ok := d.domains[uuid]; !ok || other.State == hostapi.PowerStopped {
			delete(d.consolePorts, uuid) // its display closed
			continue
		}
		used[port] = true
	}
	port, ok := d.consolePorts[vmUUID]
	if !ok {
		port = firstConsolePort
		for used[port] {
			port++
		}
		d.consolePorts[vmUUID] = port
	}
	return hostapi.VMConsole{Protocol: hostapi.ConsoleVNC, Host: consoleListen, Port: port}, nil
}

// SetVMConsolePassword records the password in the domain's definition.
// Like QEMU, a running display takes a changed password at once, but
// neither gains one while open nor loses its last one before a restart.
func (d *Driver) SetVMConsolePassword(ctx context.Context, vmUUID, password string) (bool, error) {
	if vmUUID == "" {
		return false, fmt.Errorf("sim: %w", models.Invalid("vm uuid is empty"))
	}
	if err := hostapi.ValidateConsolePassword(password); err != nil {
		return false, fmt.Errorf("sim: %w", err)
	}
	if err := d.begin(ctx, hostapi.ActSetVMConsolePassword); err != nil {
		return false, err
	}
	defer d.mu.Unlock()
	vm, ok := d.domains[vmUUID]
	if !ok {
		return false, fmt.Errorf("sim: %w", models.NotFound("vm %s is not defined on this host", vmUUID))
	}
	live := vm.State != hostapi.PowerStopped && vm.Spec.ConsolePassword != "" && password != ""
	vm.Spec.ConsolePassword = password
	d.domains[vmUUID] = vm
	return live, nil
}
