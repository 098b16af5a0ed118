package models

// SystemTag is a system tag (ZStack's SystemTagInventory): a Tag that may
// be inherent, i.e. kept by ZCloud itself and not removable by users.
type SystemTag struct {
	Tag
	Inherent bool `db:"inherent" json:"inherent"`
}
