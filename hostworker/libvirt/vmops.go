//go:build libvirt

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"time"

	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// jobPoll is how often a wait for a domain job (a migration another call
// started) looks again.
const jobPoll = 200 * time.Millisecond

// PauseVM suspends a running domain; a paused one stays paused.
func (d *Driver) PauseVM(_ context.Context, vmUUID string) (string, error) {
	st, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		s, err := state(dom)
		if err != nil {
			return "", err
		}
		switch s {
		case virt.DOMAIN_PAUSED, virt.DOMAIN_PMSUSPENDED:
			return hostapi.PowerPaused, nil
		case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
			return "", models.Conflict("vm %s is stopped", vmUUID)
		}
		if err := dom.Suspend(); err != nil {
			return "", fmt.Errorf("suspend domain: %w", err)
		}
		return hostapi.PowerPaused, nil
	})
	if err != nil {
		return "", fail("pause vm", err)
	}
	return st, nil
}

// ResumeVM resumes a paused domain; a running one keeps running.
func (d *Driver) ResumeVM(_ context.Context, vmUUID string) (string, error) {
	st, err := d.onDomain(vmUUID, func(dom *virt.Domain) (string, error) {
		s, err := state(dom)
		if err != nil {
			return "", err
		}
		switch s {
		case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
			return "", models.Conflict("vm %s is stopped", vmUUID)
		case virt.DOMAIN_PAUSED:
			if err := dom.Resume(); err != nil {
				return "", fmt.Errorf("resume domain: %w", err)
			}
		}
		return hostapi.PowerRunning, nil
	})
	if err != nil {
		return "", fail("resume vm", err)
	}
	return st, nil
}

// onDomain runs fn on ZCloud's domain of vmUUID; a missing domain is
// models.ErrNotFound.
func (d *Driver) onDomain(vmUUID string, fn func(dom *virt.Domain) (string, error)) (string, error) {
	if err := checkVMUUID(vmUUID); err != nil {
		return "", err
	}
	return with(d, func(c *virt.Connect) (string, error) {
		have, err := findDomain(c, vmUUID)
		if err != nil {
			return "", err
		}
		if have == nil {
			return "", models.NotFound("vm %s is not defined on this host", vmUUID)
		}
		defer have.free()
		if !have.ours {
			return "", notOurs(vmUUID)
		}
		return fn(have.dom)
	})
}

// MigrateVM live-migrates a running (or paused) domain peer-to-peer to
// p.DestinationURI: the source libvirtd connects to the destination's, the
// destination keeps the definition and the source drops it. Volumes must be
// on storage both hosts see at the same paths: libvirt cannot tell a shared
// mount point from a local directory, so the migration is flagged unsafe on
// the control plane's word (SharedStorage); copying local volumes along is
// not supported yet. A migration that another call started is waited for; a
// domain already gone from here and defined at the destination has
// migrated. Cancelling ctx aborts the migration, leaving the domain here.
func (d *Driver) MigrateVM(ctx context.Context, p hostapi.MigrateVMParams) (string, error) {
	st, err := d.migrate(ctx, p)
	if err != nil {
		return "", fail("migrate vm", err)
	}
	return st, nil
}

func (d *Driver) migrate(ctx context.Context, p hostapi.MigrateVMParams) (string, error) {
	if err := checkVMUUID(p.VMUUID); err != nil {
		return "", err
	}
	switch {
	case p.DestinationURI == "":
		return "", models.Invalid("vm %s: destination uri is empty", p.VMUUID)
	case p.DestinationURI == d.cfg.URI:
		return "", models.Invalid("vm %s: destination %s is this host", p.VMUUID, p.DestinationURI)
	case !p.SharedStorage:
		return "", fmt.Errorf("vm %s: migration with local storage (copying volumes): %w", p.VMUUID, errors.ErrUnsupported)
	}
	c, release, err := d.acquire()
	if err != nil {
		return "", err
	}
	defer release()
	have, err := findDomain(c, p.VMUUID)
	if err != nil {
		d.dropIfBroken(c, err)
		return "", err
	}
	if have == nil {
		return migratedTo(p)
	}
	defer have.free()
	if !have.ours {
		return "", notOurs(p.VMUUID)
	}
	if err := waitJob(ctx, have.dom); err != nil {
		return "", err
	}
	s, err := state(have.dom)
	if isCode(err, virt.ERR_NO_DOMAIN) {
		return migratedTo(p) // the migration we waited for took it
	}
	if err != nil {
		return "", err
	}
	after := hostapi.PowerRunning
	switch s {
	case virt.DOMAIN_SHUTOFF, virt.DOMAIN_CRASHED:
		return "", models.Conflict("vm %s is stopped: only a running vm migrates live", p.VMUUID)
	case virt.DOMAIN_PAUSED:
		after = hostapi.PowerPaused
	}

	params := &virt.DomainMigrateParameters{URI: p.MigrationURI, URISet: p.MigrationURI != ""}
	flags := virt.MIGRATE_LIVE | virt.MIGRATE_PEER2PEER | virt.MIGRATE_PERSIST_DEST |
		virt.MIGRATE_UNDEFINE_SOURCE | virt.MIGRATE_UNSAFE
	done := make(chan error, 1)
	go func() { done <- have.dom.MigrateToURI3(p.DestinationURI, params, flags) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = have.dom.AbortJob() // the migration fails and the domain stays here
		if err := <-done; err == nil {
			return after, nil // it ended before the abort took
		}
		return "", fmt.Errorf("migrate vm %s: %w", p.VMUUID, ctx.Err())
	}
	if err != nil {
		return "", fmt.Errorf("migrate domain to %s: %w", p.DestinationURI, err)
	}
	return after, nil
}

// waitJob waits until dom runs no job (a migration started by an earlier
// call of an agent that died).
func waitJob(ctx context.Context, dom *virt.Domain) error {
	for {
		info, err := dom.GetJobInfo()
		if isCode(err, virt.ERR_NO_DOMAIN) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("domain job: %w", err)
		}
		if info.Type == virt.DOMAIN_JOB_NONE {
			return nil
		}
		t := time.NewTimer(jobPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the domain's running job: %w", ctx.Err())
		}
	}
}

// migratedTo reports the state of a VM that is not here: migrated when the
// destination has ZCloud's domain of it, else not found.
func migratedTo(p hostapi.MigrateVMParams) (string, error) {
	dc, err := virt.NewConnect(p.DestinationURI)
	if err != nil {
		return "", fmt.Errorf("vm %s is not here; connect to destination %s: %w", p.VMUUID, p.DestinationURI, err)
	}
	defer func() { _, _ = dc.Close() }()
	there, err := findDomain(dc, p.VMUUID)
	if err != nil {
		return "", fmt.Errorf("vm %s is not here; destination: %w", p.VMUUID, err)
	}
	if there == nil || !there.ours {
		return "", models.NotFound("vm %s is neither here nor at %s", p.VMUUID, p.DestinationURI)
	}
	defer there.free()
	s, err := state(there.dom)
	if err != nil {
		return "", err
	}
	return powerState(s), nil
}
