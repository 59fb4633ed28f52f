package syncer

import "github.com/emersion/go-imap/v2/imapclient"

type (
	imapclient_UID  = imapclient.FetchItemDataUID
	imapclient_Body = imapclient.FetchItemDataBodySection
)
