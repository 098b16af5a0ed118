package sshdeploy

import (
	"context"
	"path"
	"strings"

	"github.com/zcloud/zcloud/models"
)

// authorizedKeysPath is where sshd reads the login user's keys (the
// default AuthorizedKeysFile, relative to the user's home).
const authorizedKeysPath = ".ssh/authorized_keys"

// PrepareSftpStore logs in to an Sftp backup storage host at t, makes dir
// (an absolute path) and checks that it is a writable directory, and puts
// authorizedKey (one authorized_keys line) into the login user's
// authorized_keys unless it is there. It returns the SHA256 fingerprint of
// the host's key. Nothing is changed when the login or the directory
// fails; the key is added last.
func PrepareSftpStore(ctx context.Context, t Target, dir, authorizedKey string) (string, error) {
	if err := CheckStoreDir(dir); err != nil {
		return "", err
	}
	line, err := keyLine(authorizedKey)
	if err != nil {
		return "", err
	}
	r, err := dial(ctx, t)
	if err != nil {
		return "", err
	}
	defer r.close()
	if err := r.checkRoot(ctx); err != nil {
		return "", err
	}
	q := quote(dir)
	out, err := r.run(ctx, "if [ -e "+q+" ] && [ ! -d "+q+" ]; then echo notdir; exit 0; fi; mkdir -p -- "+q+
		" && if [ -w "+q+" ]; then echo ok; else echo readonly; fi")
	if err != nil {
		return "", withCause(models.Invalid("cannot make the directory %s on %s", dir, r.addr), err)
	}
	switch strings.TrimSpace(out) {
	case "notdir":
		return "", models.Invalid("url %s on %s exists and is not a directory", dir, r.addr)
	case "readonly":
		return "", models.Invalid("url %s on %s is not writable", dir, r.addr)
	}
	keys, kq := authorizedKeysPath, quote(line)
	cmd := "umask 077 && mkdir -p .ssh && touch " + keys + " && (grep -qxF -- " + kq + " " + keys + " || printf '%s\\n' " + kq + " >> " + keys + ")"
	if _, err := r.run(ctx, cmd); err != nil {
		return "", err
	}
	return r.hostKey, nil
}

// RemoveAuthorizedKey removes the line authorizedKey from the login
// user's authorized_keys on the host at t; a missing file or line is fine.
func RemoveAuthorizedKey(ctx context.Context, t Target, authorizedKey string) error {
	line, err := keyLine(authorizedKey)
	if err != nil {
		return err
	}
	r, err := dial(ctx, t)
	if err != nil {
		return err
	}
	defer r.close()
	keys, tmp := authorizedKeysPath, authorizedKeysPath+".zcloud-"+randomHex(6)
	// grep exits 1 when no line is left: the file is then empty.
	cmd := "[ -f " + keys + " ] || exit 0; umask 077; grep -vxF -- " + quote(line) + " " + keys + " > " + tmp + "; [ $? -le 1 ] && mv -f " + tmp + " " + keys
	_, err = r.run(ctx, cmd)
	return err
}

// CheckStoreDir accepts an absolute, clean directory path.
func CheckStoreDir(dir string) error {
	if !strings.HasPrefix(dir, "/") || path.Clean(dir) != dir || dir == "/" || strings.ContainsAny(dir, "\x00\n") {
		return models.Invalid("url %q must be an absolute directory on the backup storage host", dir)
	}
	return nil
}

// keyLine is an authorized_keys line without its line break; it may hold
// only one line.
func keyLine(k string) (string, error) {
	line := strings.TrimRight(k, "\n")
	if line == "" || strings.ContainsAny(line, "\r\n") {
		return "", models.Invalid("an authorized key must be one line")
	}
	return line, nil
}
