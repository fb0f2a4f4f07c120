//! MANSCDP bodies as cameras and NVRs send them: GB2312/GBK, catalogs, alarms, refusals.

use super::*;

const NVR: &str = "34020000001180000001";

fn gbk(s: &str) -> Vec<u8> {
    GBK.encode(s).0.into_owned()
}

fn ok(bytes: &[u8], content_type: Option<&str>) -> Parsed {
    parse(bytes, content_type, &XmlLimits::default()).expect("accepted")
}

fn err(bytes: &[u8]) -> XmlError {
    parse(bytes, None, &XmlLimits::default()).expect_err("refused")
}

#[test]
fn gb2312_keepalive_as_cameras_send_it() {
    let xml = "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n\
               <SN>43</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n";
    let p = ok(&gbk(xml), Some("Application/MANSCDP+xml"));
    let Body::Keepalive(k) = p.body else { panic!("{p:?}") };
    assert_eq!((k.sn, k.device_id.as_str(), k.ok), (43, "34020000001320000001", true));
    assert!(p.deviations.is_empty());
}

#[test]
fn nvr_catalog_with_chinese_names_in_gbk() {
    let nvr = DeviceId::parse(NVR).expect("valid");
    let channels: Vec<(DeviceId, &str, bool)> = (1..=4)
        .map(|i| (DeviceId::parse(&format!("3402000000132000000{i}")).expect("valid"), "大门口", i != 3))
        .collect();
    let body = catalog_response(7, &nvr, 4, &channels);
    assert!(std::str::from_utf8(&body).is_err(), "GBK bytes, not UTF-8");
    let Body::Catalog(c) = ok(&body, None).body else { panic!("not a catalog") };
    assert_eq!((c.sn, c.sum_num, c.items.len()), (7, 4, 4));
    assert_eq!(c.items[0].name, "大门口");
    assert_eq!(c.items[2].status, Some(ItemStatus::Off));
    assert_eq!(c.items[0].parent_id.as_deref(), Some(NVR));
}

#[test]
fn catalog_items_with_bad_ids_are_refused_one_by_one() {
    let xml = format!(
        "<?xml version=\"1.0\"?><Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>{NVR}</DeviceID>\
         <SumNum>3</SumNum><DeviceList Num=\"3\"><Item><DeviceID>330212</DeviceID><Name>鄞州区</Name></Item>\
         <Item><DeviceID>33021219900101123X</DeviceID></Item>\
         <Item><DeviceID>34020000001320000001</DeviceID><Name>塔吊</Name><Status>ONLINE</Status></Item>\
         </DeviceList></Response>"
    );
    let Body::Catalog(c) = ok(xml.as_bytes(), None).body else { panic!("not a catalog") };
    assert_eq!(c.civil_codes, vec!["330212"]);
    assert_eq!(c.items.len(), 1);
    assert_eq!(c.items[0].status, Some(ItemStatus::On));
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].0, 1);
    assert!(!format!("{:?}", c.rejected).contains("19900101"), "the refused id is not echoed");
}

#[test]
fn alarm_2016_with_info_and_2011_style_top_level_type() {
    let xml = "<?xml version=\"1.0\" encoding=\"GB2312\"?><Notify><CmdType>Alarm</CmdType><SN>9</SN>\
               <DeviceID>34020000001320000001</DeviceID><AlarmPriority>1</AlarmPriority>\
               <AlarmMethod>5</AlarmMethod><AlarmTime>2026-12-06T14:03:09</AlarmTime>\
               <AlarmDescription>区域入侵</AlarmDescription><Info><AlarmType>2</AlarmType></Info></Notify>";
    let p = ok(&gbk(xml), None);
    let Body::Alarm(a) = p.body else { panic!("not an alarm") };
    assert_eq!((a.priority.get(), a.method.get(), a.alarm_type), (1, 5, Some(2)));
    assert_eq!(a.description.as_deref(), Some("区域入侵"));
    assert_eq!(a.time.offset(), siteledger_domain::time::SHANGHAI);
    assert_eq!(format_local_time(a.time), "2026-12-06T14:03:09");
    assert!(p.deviations.is_empty());

    let top = xml.replace("<Info><AlarmType>2</AlarmType></Info>", "<AlarmType>2</AlarmType>");
    let p = ok(&gbk(&top), None);
    assert_eq!(p.deviations, vec![XmlDeviation::TopLevelAlarmType]);

    assert_eq!(err(&gbk(&xml.replace(">1</AlarmPriority>", ">5</AlarmPriority>"))).name(), "xml_bad_field");
    assert_eq!(err(&gbk(&xml.replace(">5</AlarmMethod>", ">0</AlarmMethod>"))).name(), "xml_bad_field");
    assert_eq!(err(&gbk(&xml.replace("2026-12-06T14:03:09", "20261206140309"))).name(), "xml_bad_field");
    assert_eq!(
        err(&gbk(&xml.replace("<AlarmTime>2026-12-06T14:03:09</AlarmTime>", ""))),
        XmlError::Missing("AlarmTime")
    );
}

#[test]
fn billion_laughs_and_any_doctype_are_refused_unexpanded() {
    let mut lol = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
        lol.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    lol.push_str("]>\n<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&lol9;</DeviceID></Notify>");
    assert_eq!(err(lol.as_bytes()), XmlError::Doctype);
    assert_eq!(err(b"<!doctype Notify><Notify><CmdType>Keepalive</CmdType></Notify>"), XmlError::Doctype);
    let external = "<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"file:///etc/passwd\"><Notify/>";
    assert_eq!(err(external.as_bytes()).name(), "xml_doctype_refused");
}

#[test]
fn charsets_declared_wrongly_or_unknown() {
    // Declared GB2312, sent as UTF-8 with Chinese: accepted and flagged.
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?><Response><CmdType>DeviceInfo</CmdType><SN>2</SN>\
         <DeviceID>{NVR}</DeviceID><DeviceName>工地录像机</DeviceName><Result>OK</Result><Channel>4</Channel></Response>"
    );
    let p = ok(xml.as_bytes(), None);
    assert_eq!(p.deviations, vec![XmlDeviation::CharsetMismatch]);
    let Body::DeviceInfo(info) = p.body else { panic!("not device info") };
    assert_eq!((info.name.as_deref(), info.channels), (Some("工地录像机"), Some(4)));
    // Undeclared GBK: decoded as GBK, flagged.
    let undeclared = gbk(&xml.replace(" encoding=\"GB2312\"", ""));
    assert_eq!(ok(&undeclared, None).deviations, vec![XmlDeviation::CharsetMismatch]);
    // The Content-Type charset wins over the declaration.
    assert!(ok(&gbk(&xml), Some("Application/MANSCDP+xml;charset=gbk")).deviations.is_empty());
    assert_eq!(err(&xml.replace("GB2312", "x-klingon").into_bytes()).name(), "xml_unknown_charset");
    assert_eq!(err(b"<Notify>\xFF\xFF\xFF</Notify>").name(), "xml_undecodable");
}

#[test]
fn device_status_and_malformed_bodies() {
    let xml = format!(
        "<Response><CmdType>DeviceStatus</CmdType><SN>3</SN><DeviceID>{NVR}</DeviceID><Result>OK</Result>\
         <Online>ONLINE</Online><Status>OK</Status><Record>OFF</Record></Response>"
    );
    let Body::DeviceStatus(s) = ok(xml.as_bytes(), None).body else { panic!("not status") };
    assert_eq!((s.online, s.working, s.recording), (Some(true), Some(true), Some(false)));
    assert_eq!(err(b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN>").name(), "xml_syntax");
    assert_eq!(err(b"<Foo><CmdType>Keepalive</CmdType></Foo>"), XmlError::UnknownRoot);
    assert_eq!(err(b"<Notify><SN>1</SN></Notify>"), XmlError::Missing("CmdType"));
    let bad_id = b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>123</DeviceID></Notify>";
    assert_eq!(err(bad_id).name(), "xml_bad_id");
    let big = vec![b' '; 64 * 1024 + 1];
    assert_eq!(err(&big).name(), "xml_too_large");
    let limits = XmlLimits { max_items: 2, ..XmlLimits::default() };
    let nvr = DeviceId::parse(NVR).expect("valid");
    let three: Vec<_> =
        (1..=3).map(|i| (DeviceId::parse(&format!("3402000000132000000{i}")).expect("valid"), "c", true)).collect();
    let e = parse(&catalog_response(1, &nvr, 3, &three), None, &limits).expect_err("too many items");
    assert_eq!(e, XmlError::TooLarge { what: "items", max: 2 });
}

/// Found by reasoning about the fuzz oracle: a description holding a CR (sent as `&#13;`) came back as LF
/// after rebuilding, because a raw CR is end-of-line to an XML reader.
#[test]
fn alarm_description_with_a_carriage_return_survives_rebuilding() {
    let xml = "<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>34020000001320000001</DeviceID>\
               <AlarmPriority>1</AlarmPriority><AlarmMethod>2</AlarmMethod><AlarmTime>2026-12-06T14:03:09</AlarmTime>\
               <AlarmDescription>a&#13;b &amp; &lt;c&gt;</AlarmDescription></Notify>";
    let Body::Alarm(a) = ok(xml.as_bytes(), None).body else { panic!("not an alarm") };
    assert_eq!(a.description.as_deref(), Some("a\rb & <c>"));
    let Body::Alarm(b) = ok(&alarm_notify(&a), None).body else { panic!("not an alarm") };
    assert_eq!(b.description, a.description);
}

/// A `DeviceStatus` answer as the 2016 standard's example writes it (`Encode`, `DeviceTime`, `Alarmstatus` items
/// with `DutyStatus`), and the builder's GBK answer read back; an item with a bad id is refused on its own.
#[test]
fn device_status_with_alarmstatus_items_and_the_builder_round_trip() {
    let xml = format!(
        "<Response><CmdType>DeviceStatus</CmdType><SN>248</SN><DeviceID>{NVR}</DeviceID><Result>OK</Result>\
         <Online>OFFLINE</Online><Status>ERROR</Status><Encode>ON</Encode><Record>OFF</Record>\
         <DeviceTime>2026-12-06T14:03:09</DeviceTime><Alarmstatus Num=\"2\">\
         <Item><DeviceID>33021200001340000001</DeviceID><DutyStatus>ONDUTY</DutyStatus></Item>\
         <Item><DeviceID>12</DeviceID><DutyStatus>ALARM</DutyStatus></Item></Alarmstatus></Response>"
    );
    let Body::DeviceStatus(s) = ok(xml.as_bytes(), None).body else { panic!("not status") };
    assert_eq!((s.online, s.working, s.encoding, s.recording), (Some(false), Some(false), Some(true), Some(false)));
    assert_eq!(s.device_time.as_deref(), Some("2026-12-06T14:03:09"));
    let alarm_input = DeviceId::parse("33021200001340000001").expect("valid");
    assert_eq!((s.alarm_status, s.alarm_status_rejected), (vec![(alarm_input, "ONDUTY".to_owned())], 1));

    let nvr = DeviceId::parse(NVR).expect("valid");
    let channel = DeviceId::parse("33021200001320000001").expect("valid");
    let built = device_status_response(7, &nvr, true, false, std::slice::from_ref(&channel));
    let Body::DeviceStatus(s) = ok(&built, None).body else { panic!("not status") };
    assert_eq!((s.sn, &s.device_id, s.ok, s.online, s.working), (7, &nvr, true, Some(true), Some(false)));
    assert_eq!(s.alarm_status, vec![(channel, "ONDUTY".to_owned())]);
}
