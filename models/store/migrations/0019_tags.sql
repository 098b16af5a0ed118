-- System tags ZCloud keeps for itself (ZStack's inherent tags) cannot be
-- deleted or updated through the tag APIs.
ALTER TABLE system_tags ADD COLUMN inherent BOOLEAN NOT NULL DEFAULT FALSE;
