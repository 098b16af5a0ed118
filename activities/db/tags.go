package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// CodePermissionDenied is ZStack's IdentityErrors.PERMISSION_DENIED.
const CodePermissionDenied = "ID.1002"

// maxTagLength is the tag columns' size.
const maxTagLength = 2048

// tagTypeAliases are ZStack resource types (VO class names) whose name is
// not the store's resource name followed by "VO": subclasses of a VO
// ZCloud keeps in one table.
var tagTypeAliases = map[string]string{
	"KVMHostVO": store.ResHost, "SimulatorHostVO": store.ResHost,
	"L2NoVlanNetworkVO": store.ResL2Network, "L2VlanNetworkVO": store.ResL2Network,
	"VxlanNetworkVO": store.ResL2Network, "VxlanNetworkPoolVO": store.ResL2Network,
	"ImageStoreBackupStorageVO": store.ResBackupStorage, "SftpBackupStorageVO": store.ResBackupStorage,
	"ApplianceVmVO": store.ResVpcRouter, "VpcRouterVmVO": store.ResVpcRouter,
}

// registerTags registers the tag API activities.
func (a *Activities) registerTags(w worker.Registry) {
	w.RegisterActivityWithOptions(a.TagApply, activity.RegisterOptions{Name: activities.TagApply})
	w.RegisterActivityWithOptions(a.TagInventory, activity.RegisterOptions{Name: activities.TagInventory})
}

// tagResource is the taggable store resource a ZStack resource type
// (VmInstanceVO, HostVO, ...) names. Stored tags name it without "VO"
// (some with), so both are accepted when stored is set.
func tagResource(st *store.Store, resourceType string, stored bool) (*store.Resource, error) {
	name, ok := tagTypeAliases[resourceType]
	if !ok {
		var vo bool
		name, vo = strings.CutSuffix(resourceType, "VO")
		if !vo && !stored {
			name = ""
		}
	}
	if r, ok := st.Resource(name); ok && r.TagResourceType != "" {
		return r, nil
	}
	return nil, models.Invalid("no resource type[%s] found in tag system", resourceType).WithCode(models.CodeInvalidArgument)
}

// tagChange is a checked tag change: the tag as it is (update, delete)
// or will be (create), its resource and its pattern (system tags that
// ZCloud reads).
type tagChange struct {
	p       activities.TagParams
	table   string
	res     *store.Resource
	cur     models.SystemTag
	exists  bool
	pattern *activities.TagPattern
}

// CheckTag checks a tag change without making it: the API answers bad
// input at once with it, and the job's TagApply checks again.
func CheckTag(ctx context.Context, st *store.Store, p activities.TagParams) error {
	_, err := checkTag(ctx, st, p)
	return err
}

func checkTag(ctx context.Context, st *store.Store, p activities.TagParams) (tagChange, error) {
	switch p.Action {
	case activities.TagCreate:
		return checkTagCreate(ctx, st, p)
	case activities.TagUpdate, activities.TagDelete:
		return checkTagChange(ctx, st, p)
	}
	return tagChange{}, models.Invalid("unknown tag action %q", p.Action)
}

func tagTable(typ string) (string, error) {
	switch typ {
	case activities.TagTypeSystem:
		return "system_tags", nil
	case activities.TagTypeUser:
		return "user_tags", nil
	}
	return "", models.Invalid("unknown tag type %q", typ)
}

// checkTagCreate checks a new tag: a known resource type, an existing
// resource of it that the caller owns, a tag of a pattern ZCloud knows
// (system tags) and that no API manages, one tag per pattern unless the
// pattern allows several.
func checkTagCreate(ctx context.Context, st *store.Store, p activities.TagParams) (tagChange, error) {
	c := tagChange{p: p}
	var err error
	if c.table, err = tagTable(p.Type); err != nil {
		return c, err
	}
	if c.res, err = tagResource(st, p.ResourceType, false); err != nil {
		return c, err
	}
	if err := checkTagText(p.Tag); err != nil {
		return c, err
	}
	ok, err := st.Exists(ctx, c.res.Name, p.ResourceUUID)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, models.NotFound("cannot find the resource[uuid:%s, type:%s]", p.ResourceUUID, p.ResourceType)
	}
	if err := checkTagOwner(ctx, st, p.AccountUUID, p.ResourceUUID); err != nil {
		return c, err
	}
	if c.cur, c.exists, err = getTag(ctx, st, c.table, "resource_uuid = ? AND tag = ?", p.ResourceUUID, p.Tag); err != nil || c.exists {
		return c, err // one tag per (resource, tag): creating it again is a no-op
	}
	if p.Type == activities.TagTypeUser {
		return c, nil
	}
	if err := c.checkPattern(ctx, st, p.Tag); err != nil {
		return c, err
	}
	if c.pattern.Many {
		return c, nil
	}
	var other string
	err = st.DB().GetContext(ctx, &other, `SELECT uuid FROM system_tags WHERE resource_uuid = ? AND tag LIKE ? LIMIT 1`,
		p.ResourceUUID, c.pattern.Prefix+"%")
	if err == nil {
		return c, models.Conflict("the resource[uuid:%s] already has a %s tag[uuid:%s]; change it with UpdateSystemTag",
			p.ResourceUUID, c.pattern.Format, other).WithCode(models.CodeInvalidArgument)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return c, err
	}
	return c, nil
}

// checkTagChange checks an update or delete of an existing tag: not
// inherent, on a resource the caller owns, not managed by an API, and for
// an update a new tag of the same pattern. Deleting a missing tag is a
// no-op, as in ZStack.
func checkTagChange(ctx context.Context, st *store.Store, p activities.TagParams) (tagChange, error) {
	c := tagChange{p: p}
	tables := []string{"system_tags", "user_tags"}
	if p.Action == activities.TagUpdate {
		tables = tables[:1]
	}
	for _, t := range tables {
		var err error
		if c.cur, c.exists, err = getTag(ctx, st, t, "uuid = ?", p.TagUUID); err != nil {
			return c, err
		}
		if c.exists {
			c.table = t
			break
		}
	}
	if !c.exists {
		if p.Action == activities.TagDelete {
			return c, nil
		}
		return c, models.NotFound("cannot find the system tag[uuid:%s]", p.TagUUID)
	}
	verb := map[string]string{activities.TagUpdate: "updated", activities.TagDelete: "removed"}[p.Action]
	if c.cur.Inherent {
		return c, models.Conflict("tag[uuid:%s] is an inherent system tag, can not be %s", p.TagUUID, verb)
	}
	if err := checkTagOwner(ctx, st, p.AccountUUID, c.cur.ResourceUUID); err != nil {
		return c, err
	}
	if c.table == "user_tags" {
		return c, nil
	}
	var err error
	if c.res, err = tagResource(st, c.cur.ResourceType, true); err != nil {
		return c, err
	}
	if p.Action == activities.TagDelete {
		pt, err := activities.MatchSystemTag(c.res.Name, c.cur.Tag.Tag)
		if err != nil {
			return c, nil // a tag ZCloud does not read goes without consequence
		}
		c.pattern = &pt
		return c, pt.Validate(c.cur.Tag.Tag)
	}
	if err := checkTagText(p.Tag); err != nil {
		return c, err
	}
	if err := c.checkPattern(ctx, st, p.Tag); err != nil {
		return c, err
	}
	old, err := activities.MatchSystemTag(c.res.Name, c.cur.Tag.Tag)
	if err != nil || old.Prefix != c.pattern.Prefix {
		return c, models.Invalid("system tag [%s] cannot become a %s tag: delete it and create the new one", c.cur.Tag.Tag, c.pattern.Format).
			WithCode(models.CodeInvalidArgument)
	}
	if p.Tag == c.cur.Tag.Tag {
		return c, nil
	}
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM system_tags WHERE resource_uuid = ? AND tag = ?`,
		c.cur.ResourceUUID, p.Tag); err != nil {
		return c, err
	}
	if n > 0 {
		return c, models.Conflict("duplicated tag[tag:%s, resourceUuid:%s]", p.Tag, c.cur.ResourceUUID).WithCode(models.CodeInvalidArgument)
	}
	return c, nil
}

// getTag reads one tag of a tag table; a user tag is never inherent.
func getTag(ctx context.Context, st *store.Store, table, where string, args ...any) (models.SystemTag, bool, error) {
	var t models.SystemTag
	var err error
	if table == "system_tags" {
		err = st.DB().GetContext(ctx, &t, `SELECT * FROM system_tags WHERE `+where+` LIMIT 1`, args...)
	} else {
		err = st.DB().GetContext(ctx, &t.Tag, `SELECT * FROM user_tags WHERE `+where+` LIMIT 1`, args...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	return t, err == nil, err
}

// checkPattern finds and applies the pattern of a system tag on the
// change's resource type.
func (c *tagChange) checkPattern(ctx context.Context, st *store.Store, tag string) error {
	pt, err := activities.MatchSystemTag(c.res.Name, tag)
	if err != nil {
		return err
	}
	c.pattern = &pt
	if err := pt.Validate(tag); err != nil {
		return err
	}
	if pt.Prefix == activities.GuestL3NetworkTag {
		ok, err := st.Exists(ctx, store.ResL3Network, pt.Value(tag))
		if err != nil {
			return err
		}
		if !ok {
			return models.NotFound("bad system tag [%s]: cannot find L3Network[uuid:%s]", tag, pt.Value(tag))
		}
	}
	return nil
}

func checkTagText(tag string) error {
	if strings.TrimSpace(tag) == "" {
		return models.Invalid("tag is required").WithCode(models.CodeInvalidArgument)
	}
	if len(tag) > maxTagLength {
		return models.Invalid("tag has %d characters; at most %d", len(tag), maxTagLength).WithCode(models.CodeInvalidArgument)
	}
	return nil
}

// checkTagOwner lets an admin tag anything and another account only the
// resources it owns, as ZStack's TagApiInterceptor.
func checkTagOwner(ctx context.Context, st *store.Store, accountUUID, resourceUUID string) error {
	var typ string
	err := st.DB().GetContext(ctx, &typ, `SELECT type FROM accounts WHERE uuid = ?`, accountUUID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if typ == store.AccountSystemAdmin {
		return nil
	}
	owner, err := st.Owner(ctx, resourceUUID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if owner != accountUUID {
		return &models.Error{Kind: models.KindAuth, Code: CodePermissionDenied,
			Message: "permission denied. The resource[uuid:" + resourceUUID + "] does not belong to the account[uuid:" + accountUUID + "]"}
	}
	return nil
}

// TagApply makes a checked tag change, or leaves a VM guest tag's change
// to the guest configuration workflow (returned in the plan). Re-run
// after a crash it finds its change made: a create finds the tag, an
// update the same tag, a delete nothing.
func (a *Activities) TagApply(ctx context.Context, p activities.TagParams) (activities.TagPlan, error) {
	c, err := checkTag(ctx, a.Store, p)
	if err != nil {
		return activities.TagPlan{}, wrap(err)
	}
	plan := activities.TagPlan{UUID: c.cur.UUID, Type: c.cur.Type}
	guest := c.pattern != nil && c.pattern.Guest
	switch {
	case p.Action == activities.TagCreate && c.exists:
	case p.Action == activities.TagCreate:
		plan = activities.TagPlan{UUID: models.NameUUID(p.ResourceUUID, p.Type, p.Tag), Type: p.Type, Created: true}
		if guest {
			plan.Guest = &activities.GuestTagParams{VMUUID: p.ResourceUUID, Prefix: c.pattern.Prefix, Value: c.pattern.Value(p.Tag)}
			break
		}
		sys, user := []string{p.Tag}, []string(nil)
		if p.Type == activities.TagTypeUser {
			sys, user = nil, sys
		}
		err = a.Store.AddTags(ctx, p.ResourceUUID, c.res.Name, sys, user)
	case !c.exists: // deleted already
	case p.Action == activities.TagUpdate && p.Tag == c.cur.Tag.Tag:
	case guest && p.Action == activities.TagUpdate:
		plan.Guest = &activities.GuestTagParams{VMUUID: c.cur.ResourceUUID, Prefix: c.pattern.Prefix, Value: c.pattern.Value(p.Tag)}
	case guest:
		plan.Guest = &activities.GuestTagParams{VMUUID: c.cur.ResourceUUID, Prefix: c.pattern.Prefix}
	case p.Action == activities.TagUpdate:
		_, err = a.Store.DB().ExecContext(ctx, `UPDATE system_tags SET tag = ?, last_op_date = ? WHERE uuid = ?`, p.Tag, models.Now(), c.cur.UUID)
	default:
		_, err = a.Store.DB().ExecContext(ctx, `DELETE FROM `+c.table+` WHERE uuid = ?`, c.cur.UUID)
	}
	return plan, wrap(err)
}

// TagInventory renders tags by UUID: one as "inventory", a list as
// "inventories".
func (a *Activities) TagInventory(ctx context.Context, p activities.TagInventoryParams) (activities.Result, error) {
	res := store.ResSystemTag
	if p.Type == activities.TagTypeUser {
		res = store.ResUserTag
	}
	invs := make([]any, 0, len(p.UUIDs))
	for _, u := range p.UUIDs {
		inv, err := a.Store.Inventory(ctx, res, u)
		if err != nil {
			return activities.Result{}, wrap(err)
		}
		invs = append(invs, inv)
	}
	if p.Key == "inventory" && len(invs) == 1 {
		return result(p.Key, invs[0])
	}
	return result(p.Key, invs)
}
