// Package aliyun holds the control plane's Alibaba Cloud activities: one
// client per AccessKey and region built on the classic alibaba-cloud-sdk-go,
// a rate limit per AccessKey, ClientTokens that make creates idempotent, and
// Alibaba errors mapped to ZCloud's error kinds. Workflows reach these
// activities by the names in workflows/hybrid_contract.go.
package aliyun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"golang.org/x/time/rate"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
	"github.com/zcloud/zcloud/workflows"
)

// ErrTypeRetry is the ApplicationError type of remote failures worth
// retrying (throttling, a busy or unavailable service): the activity's
// retry policy backs off and tries again.
const ErrTypeRetry = "AliyunRetryable"

// Config configures the Alibaba activities.
type Config struct {
	// Endpoint, when set (http://127.0.0.1:PORT), replaces the endpoint of
	// every product (ECS, VPC, STS, OSS): tests and `zcloud dev` point the
	// SDKs at aliyunsim with it. No proxy is used for it.
	Endpoint string
	// RatePerKey is the calls per second allowed per AccessKey (default 20).
	RatePerKey float64
	// PollInterval is how often waits poll an asynchronous state (default 300 ms).
	PollInterval time.Duration
	// Timeout bounds one HTTP call (default 10 s).
	Timeout time.Duration
	// SecretKey (32 bytes) encrypts AccessKey secrets at rest; when empty,
	// KeyFile is read, or created with a random key. With neither, no
	// AccessKey can be added or used.
	SecretKey []byte
	// KeyFile holds the secret key (0600), e.g. var/hybrid.key.
	KeyFile string
}

// RegisterOn builds the activities from cfg, publishes the sealing key and
// registers them on a control-plane worker.
func RegisterOn(ctx context.Context, w worker.Registry, st *store.Store, cfg Config, logger *slog.Logger) error {
	key := cfg.SecretKey
	if len(key) == 0 && cfg.KeyFile != "" {
		var err error
		if key, err = LoadOrCreateKeyFile(cfg.KeyFile); err != nil {
			return err
		}
	}
	var secrets *Secrets
	if len(key) > 0 {
		var err error
		if secrets, err = NewSecrets(key); err != nil {
			return err
		}
	}
	a := New(st, secrets, cfg, logger)
	if err := a.Publish(ctx); err != nil {
		return err
	}
	if err := a.EnsureGlobalConfigs(ctx); err != nil {
		return err
	}
	a.Register(w)
	return nil
}

// Activities calls Alibaba Cloud on behalf of workflows.
type Activities struct {
	store   *store.Store
	secrets *Secrets
	cfg     Config
	log     *slog.Logger

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// New returns the activities. secrets may be nil: AccessKeys then cannot
// be added or used, and every call says so.
func New(st *store.Store, secrets *Secrets, cfg Config, logger *slog.Logger) *Activities {
	if cfg.RatePerKey <= 0 {
		cfg.RatePerKey = 20
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 300 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Activities{store: st, secrets: secrets, cfg: cfg, log: logger, limiters: map[string]*rate.Limiter{}}
}

// Publish records the sealing public key so that API servers can seal new
// secrets to this control plane.
func (a *Activities) Publish(ctx context.Context) error {
	if a.secrets == nil {
		return nil
	}
	return a.store.PublishSealingKey(ctx, a.secrets.PublicKey())
}

// Register registers the activities under their contract names.
func (a *Activities) Register(w worker.Registry) {
	for name, fn := range map[string]any{
		workflows.ActAliyunAddKey:          a.AddKey,
		workflows.ActAliyunRead:            a.Read,
		workflows.ActAliyunSync:            a.Sync,
		workflows.ActAliyunAddDataCenter:   a.AddDataCenter,
		workflows.ActAliyunAddIdentityZone: a.AddIdentityZone,
		workflows.ActAliyunCreate:          a.Create,
		workflows.ActAliyunDelete:          a.Delete,
		workflows.ActAliyunWait:            a.Wait,
		workflows.ActAliyunRecord:          a.Record,
		workflows.ActAliyunAction:          a.Action,
		workflows.ActAliyunLookup:          a.Lookup,
		workflows.ActHybridDeleteLocal:     a.DeleteLocal,
		workflows.ActHybridEcsTransition:   a.EcsTransition,
		workflows.ActHybridEcsCreateRecord: a.EcsCreateRecord,
		workflows.ActAliyunUploadImage:     a.UploadImage,
		workflows.ActAliyunDeleteObject:    a.DeleteObject,
		workflows.ActHybridAddVpnConfig:    a.AddVpnConfig,
		workflows.ActInterconnectPlan:      a.InterconnectPlan,
		workflows.ActInterconnectIPsec:     a.InterconnectIPsec,
		workflows.ActInterconnectRecord:    a.InterconnectRecord,
		workflows.ActInterconnectLookup:    a.InterconnectLookup,
		workflows.ActAliyunSyncInfo:        a.SyncInfo,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// limiter is the token bucket of one AccessKey.
func (a *Activities) limiter(akey string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.limiters[akey]
	if !ok {
		l = rate.NewLimiter(rate.Limit(a.cfg.RatePerKey), max(1, int(a.cfg.RatePerKey)))
		a.limiters[akey] = l
	}
	return l
}

// conn is one AccessKey in one region: the SDK clients and the key's rate
// limit. Clients are built per activity (they are cheap, and the classic SDK
// mutates its transport per request, so sharing one across goroutines races).
type conn struct {
	a      *Activities
	akey   string
	secret string
	region string
	lim    *rate.Limiter
}

// connFor opens the current AccessKey of an account.
func (a *Activities) connFor(ctx context.Context, accountUUID, region string) (*conn, error) {
	k, err := a.store.CurrentHybridAccount(ctx, accountUUID)
	if err != nil {
		return nil, err
	}
	if a.secrets == nil {
		return nil, errNoSecrets()
	}
	secret, err := a.secrets.decrypt(k.Secret)
	if err != nil {
		return nil, err
	}
	return a.connWith(k.AKey, secret, region), nil
}

func (a *Activities) connWith(akey, secret, region string) *conn {
	if region == "" {
		region = "cn-hangzhou"
	}
	return &conn{a: a, akey: akey, secret: secret, region: region, lim: a.limiter(akey)}
}

func errNoSecrets() error {
	return &models.Error{Kind: models.KindUnavailable, Code: models.CodeOperation,
		Message: "no hybrid secret key is configured on this control plane",
		Details: "set node.Config.AliyunSecretKey or AliyunKeyFile; AccessKey secrets are stored encrypted with it"}
}

// sdkConfig is the SDK configuration: the override endpoint's scheme and a
// transport of our own.
func (c *conn) sdkConfig() *sdk.Config {
	cfg := sdk.NewConfig().WithTimeout(c.a.cfg.Timeout).WithAutoRetry(false)
	cfg.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	if u, err := url.Parse(c.a.cfg.Endpoint); err == nil && c.a.cfg.Endpoint != "" {
		cfg = cfg.WithScheme(strings.ToUpper(u.Scheme))
	} else {
		cfg = cfg.WithScheme("HTTPS")
	}
	return cfg
}

// aim points an SDK client at the override endpoint, bypassing proxies: the
// SDK reads HTTP(S)_PROXY itself, even for 127.0.0.1, unless NoProxy
// (regexps on the host) matches.
func (c *conn) aim(cl *sdk.Client) {
	if c.a.cfg.Endpoint == "" {
		return
	}
	u, err := url.Parse(c.a.cfg.Endpoint)
	if err != nil {
		return
	}
	cl.Domain = u.Host
	cl.SetNoProxy("^" + regexp.QuoteMeta(u.Host) + "$")
}

func (c *conn) cred() *credentials.AccessKeyCredential {
	return credentials.NewAccessKeyCredential(c.akey, c.secret)
}

func (c *conn) ecs() (*ecs.Client, error) {
	cl, err := ecs.NewClientWithOptions(c.region, c.sdkConfig(), c.cred())
	if err != nil {
		return nil, fmt.Errorf("ecs client: %w", err)
	}
	c.aim(&cl.Client)
	return cl, nil
}

func (c *conn) vpc() (*vpc.Client, error) {
	cl, err := vpc.NewClientWithOptions(c.region, c.sdkConfig(), c.cred())
	if err != nil {
		return nil, fmt.Errorf("vpc client: %w", err)
	}
	c.aim(&cl.Client)
	return cl, nil
}

func (c *conn) sts() (*sts.Client, error) {
	cl, err := sts.NewClientWithOptions(c.region, c.sdkConfig(), c.cred())
	if err != nil {
		return nil, fmt.Errorf("sts client: %w", err)
	}
	c.aim(&cl.Client)
	return cl, nil
}

// call runs one remote call under the key's rate limit and maps its error.
func (c *conn) call(ctx context.Context, action string, fn func() error) error {
	if err := c.lim.Wait(ctx); err != nil {
		return fmt.Errorf("aliyun %s: rate limit: %w", action, err)
	}
	start := time.Now()
	err := fn()
	c.a.log.Debug("aliyun call", "action", action, "region", c.region, "duration", time.Since(start), "error", err)
	return remoteErr(action, err)
}

// clientToken makes a create idempotent: derived from the workflow and
// activity IDs, it is the same on every retry of the activity (and on its
// re-execution after a worker crash), so Alibaba returns the resource the
// first attempt made instead of making a second.
func clientToken(ctx context.Context, kind string) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	info := activity.GetInfo(ctx)
	h := sha256.Sum256([]byte(info.WorkflowExecution.ID + "/" + info.ActivityID + "/" + kind))
	return "zc-" + hex.EncodeToString(h[:])[:40]
}

// remoteErr maps an Alibaba error: throttling and unavailability are
// retryable; the rest are ZCloud errors (non-retryable) whose message keeps
// Alibaba's code.
func remoteErr(action string, err error) error {
	if err == nil {
		return nil
	}
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		// Network or client-side failure: retryable.
		return temporal.NewApplicationErrorWithCause("aliyun "+action+": "+err.Error(), ErrTypeRetry, err)
	}
	code := se.ErrorCode()
	msg := se.Message()
	if code == "SignatureDoesNotMatch" {
		msg = "the AccessKey secret does not match the AccessKey ID"
	}
	detail := fmt.Sprintf("aliyun %s: %s: %s (request %s)", action, code, msg, se.RequestId())
	if retryable(code, se.HttpStatus()) {
		return temporal.NewApplicationError(detail, ErrTypeRetry)
	}
	me := &models.Error{Kind: models.KindInvalid, Code: models.CodeOperation, Message: "Alibaba Cloud refused " + action, Details: code + ": " + msg + " (request " + se.RequestId() + ")"}
	switch {
	case strings.HasPrefix(code, "InvalidAccessKeyId") || code == "SignatureDoesNotMatch" || strings.HasPrefix(code, "Forbidden"):
		me.Kind, me.Code, me.Message = models.KindInvalid, models.CodeInvalidArgument, "Alibaba Cloud rejected the AccessKey"
	case strings.Contains(code, "NotFound"):
		me.Kind, me.Code = models.KindNotFound, models.CodeNotFound
	case code == "IncorrectInstanceStatus":
		me.Kind, me.Code = models.KindConflict, models.CodeVMState
	case strings.HasPrefix(code, "Incorrect") || code == "DependencyViolation" || strings.HasPrefix(code, "OperationConflict"):
		me.Kind = models.KindConflict
	case strings.HasPrefix(code, "QuotaExceeded"):
		me.Kind = models.KindUnavailable
	case strings.HasPrefix(code, "InvalidParameter") || strings.HasPrefix(code, "MissingParameter") || strings.HasPrefix(code, "Invalid"):
		me.Kind, me.Code = models.KindInvalid, models.CodeInvalidArgument
	}
	return temporal.NewNonRetryableApplicationError(me.Error(), activities.ErrType, nil, *me)
}

// retryable says whether an Alibaba error is transient.
func retryable(code string, status int) bool {
	return strings.HasPrefix(code, "Throttling") || code == "ServiceUnavailable" || code == "TaskConflict" ||
		code == "InternalError" || code == "LastTokenProcessing" || code == "VpnGateway.Configuring" ||
		code == "IncorrectStatus.VpnGateway" || status >= 500
}

// isNotFound tells an error whose remote resource is gone (a delete of a
// missing resource succeeds).
func isNotFound(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == activities.ErrType {
		var me models.Error
		return app.Details(&me) == nil && me.Kind == models.KindNotFound
	}
	return false
}

// wrap turns a ZCloud error into a non-retryable ApplicationError carrying
// it (as activities/db does); other errors stay retryable.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return err
	}
	var me *models.Error
	if errors.As(err, &me) && me.Kind != models.KindInternal {
		return temporal.NewNonRetryableApplicationError(me.Error(), activities.ErrType, nil, *me)
	}
	return err
}
