//go:build libvirt

package libvirt

import (
	"errors"
	"fmt"

	virt "libvirt.org/go/libvirt"

	"github.com/zcloud/zcloud/models"
)

// fail gives err the kind the agent branches on: a domain libvirt does not
// know is models.ErrNotFound, a call the hypervisor does not implement is
// errors.ErrUnsupported, and every other libvirt error is a failure worth a
// retry, carrying libvirt's message. Errors that already have a kind keep it.
func fail(op string, err error) error {
	var lerr virt.Error
	if !errors.As(err, &lerr) {
		return fmt.Errorf("libvirt: %s: %w", op, err)
	}
	switch lerr.Code {
	case virt.ERR_NO_DOMAIN:
		return fmt.Errorf("libvirt: %s: %w", op, &models.Error{
			Kind: models.KindNotFound, Code: models.DefaultCode(models.KindNotFound),
			Message: "domain not found", Cause: err,
		})
	case virt.ERR_NO_SUPPORT, virt.ERR_OPERATION_UNSUPPORTED:
		return fmt.Errorf("libvirt: %s: %w: %w", op, errors.ErrUnsupported, err)
	default:
		return fmt.Errorf("libvirt: %s: %w", op, err)
	}
}

// isCode reports whether err is a libvirt error with one of codes.
func isCode(err error, codes ...virt.ErrorNumber) bool {
	var lerr virt.Error
	if !errors.As(err, &lerr) {
		return false
	}
	for _, c := range codes {
		if lerr.Code == c {
			return true
		}
	}
	return false
}
