// Words on the dashboard and the report, Japanese first (the glossary's terms), and the language choice.

import { DEFAULT, LANGS, translator } from "/static/common/i18n.js";

export const MESSAGES = {
  title: { ja: "ライブダッシュボード", en: "Live dashboard" },
  report_title: { ja: "参加報告", en: "Attendance report" },
  checked_in: { ja: "来場者数", en: "Attended (venue)" },
  capacity: { ja: "申込定員", en: "registration capacity" },
  hall_capacity: { ja: "会場定員", en: "hall capacity" },
  registered: { ja: "会場参加の申込（当日参加を含む）", en: "venue registrations (walk-ins included)" },
  in_hall: { ja: "在場者数", en: "In the hall now" },
  online_now: { ja: "視聴中", en: "Watching now" },
  online_peak: { ja: "最大同時視聴数", en: "Peak concurrent" },
  peak_at: { ja: "{time} 時点", en: "at {time}" },
  online_unique: { ja: "視聴者数（ユニーク）", en: "Unique viewers" },
  total: { ja: "総参加者数", en: "Total attendance" },
  total_note: { ja: "会場とオンラインの両方に参加した方は1人と数えます", en: "People who attended both ways count once" },
  arrivals_chart: { ja: "来場（5分ごと）", en: "Arrivals (per 5 minutes)" },
  online_chart: { ja: "オンライン視聴（1分ごと）", en: "Watching online (per minute)" },
  arrivals_series: { ja: "来場", en: "arrivals" },
  online_series: { ja: "視聴中", en: "watching" },
  kiosks: { ja: "受付端末の状態", en: "Kiosk status" },
  kiosk: { ja: "受付端末", en: "Kiosk" },
  kiosk_state: { ja: "状態", en: "State" },
  kiosk_online: { ja: "接続中", en: "online" },
  kiosk_offline: { ja: "応答なし", en: "offline" },
  last_scan: { ja: "最終受付", en: "Last scan" },
  last_seen: { ja: "最終通信", en: "Last seen" },
  scans: { ja: "読取数", en: "Scans" },
  queue: { ja: "送信待ち", en: "Waiting to send" },
  decode_fps: { ja: "読取速度", en: "Camera reads" },
  fps: { ja: "{fps} fps", en: "{fps} fps" },
  fps_slow: {
    ja: "カメラの読み取りが遅い端末です（毎秒 {fps} 回）。他のアプリを閉じるか端末を替えてください",
    en: "This kiosk reads its camera slowly ({fps} frames a second). Close other apps or use another device",
  },
  no_kiosks: { ja: "受付端末はまだありません", en: "No kiosks yet" },
  latest: { ja: "最近の受付", en: "Latest check-ins" },
  ref_no: { ja: "受付番号", en: "Reference no." },
  name: { ja: "氏名", en: "Name" },
  kana: { ja: "フリガナ", en: "Reading" },
  organisation: { ja: "所属", en: "Organisation" },
  time: { ja: "時刻", en: "Time" },
  no_checkins: { ja: "まだ受付はありません", en: "No check-ins yet" },
  projector: { ja: "プロジェクター表示", en: "Projector mode" },
  report_link: { ja: "参加報告（イベント後）", en: "Report (after the event)" },
  dashboard_link: { ja: "ライブダッシュボード", en: "Live dashboard" },
  updated: { ja: "{time} 更新", en: "Updated {time}" },
  connecting: { ja: "接続しています…", en: "Connecting…" },
  stale_disconnected: {
    ja: "接続が切れています。自動で再接続しています。表示中の数値は {time} 時点のものです",
    en: "Disconnected; reconnecting by itself. The figures shown are as of {time}",
  },
  stale_quiet: {
    ja: "更新が届いていません。表示中の数値は {time} 時点のものです",
    en: "No update is arriving. The figures shown are as of {time}",
  },
  stale_never: { ja: "まだ数値を受信していません。接続を待っています", en: "No figures received yet; waiting for the connection" },
  denied_4401: {
    ja: "表示するには事務局としてログインするか、ダッシュボード用リンクで開いてください",
    en: "Log in as an organiser, or open the dashboard link, to see the figures",
  },
  denied_4403: { ja: "この資格情報では表示できません。事務局にお問い合わせください", en: "This credential may not see these figures. Ask the organisers" },
  denied_4404: { ja: "イベントが見つかりません。アドレスをご確認ください", en: "Event not found. Check the address" },
  login: { ja: "ログイン", en: "Log in" },
  no_shows: { ja: "未来場者（会場参加で申込・受付なし）", en: "No-shows (registered for the venue, never checked in)" },
  no_shows_none: { ja: "未来場者はいません", en: "Everyone registered for the venue came" },
  watched: { ja: "オンライン視聴", en: "Watched online" },
  watched_yes: { ja: "あり", en: "yes" },
  anonymous_refused: {
    ja: "同じ接続元からの匿名視聴が上限を超えたため、お断りした視聴者: {count} 名",
    en: "Anonymous viewers turned away (too many from one address): {count}",
  },
  export_csv: { ja: "参加記録をCSVでダウンロード", en: "Download the attendance CSV" },
  export_xlsx: { ja: "参加記録をExcel（.xlsx）でダウンロード", en: "Download the attendance workbook (.xlsx)" },
  as_of: { ja: "{time} 現在", en: "As of {time}" },
  event_heading: { ja: "イベント", en: "Event" },
  event_name: { ja: "イベント名", en: "Title" },
  event_date: { ja: "日時", en: "Date" },
  event_venue: { ja: "会場", en: "Venue" },
  event_organisers: { ja: "主催", en: "Organisers" },
  venue_heading: { ja: "会場参加", en: "At the venue" },
  online_heading: { ja: "オンライン視聴", en: "Watching online" },
  overall_heading: { ja: "全体", en: "Overall" },
  attendance_rate: { ja: "来場率", en: "Attendance rate" },
  rate_note: { ja: "事前申込 {registered} 名のうち {arrived} 名が来場", en: "{arrived} of {registered} registered came" },
  pre_registered: { ja: "会場参加の申込（事前）", en: "Venue registrations (in advance)" },
  pre_registered_arrived: { ja: "来場（事前申込の方）", en: "Attended (registered in advance)" },
  no_shows_short: { ja: "未来場者", en: "No-shows" },
  walk_ins: { ja: "当日参加", en: "Walk-ins" },
  walk_ins_none: { ja: "当日参加の方はいません", en: "No walk-ins" },
  online_at_venue: { ja: "オンライン参加で申込・会場に来場", en: "Registered online, came to the venue" },
  checked_in_total: { ja: "来場者数（合計）", en: "Attended (venue), in all" },
  unique_note: { ja: "申込者 {registrants} 名・匿名 {anonymous} 名", en: "{registrants} registrants, {anonymous} anonymous" },
  minutes_total: { ja: "総視聴時間", en: "Minutes watched in total" },
  minutes_per_viewer: { ja: "1人あたりの視聴時間", en: "Minutes watched per viewer" },
  both_ways: { ja: "会場とオンラインの両方で参加", en: "Attended both ways" },
  people: { ja: "{count} 名", en: "{count}" },
  minutes: { ja: "{count} 分", en: "{count} min" },
  print: { ja: "印刷", en: "Print" },
  loading: { ja: "読み込んでいます…", en: "Loading…" },
  no_arrivals: { ja: "まだ来場者はいません", en: "No arrivals yet" },
  no_viewers: { ja: "まだ視聴者はいません", en: "Nobody has watched yet" },
  load_failed: { ja: "読み込めませんでした。再読み込みしてください", en: "Could not load. Please reload" },
};

function cookieLanguage() {
  const match = document.cookie.match(/(?:^|;\s*)lang=(ja|en)\b/);
  return match ? match[1] : null;
}

/** The visitor's language: ?lang=, then the `lang` cookie the other pages share, else Japanese. */
export function currentLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  return LANGS.includes(asked) ? asked : cookieLanguage() || DEFAULT;
}

/** Remember a language for every page of the site. */
export function rememberLanguage(lang) {
  document.cookie = `lang=${lang}; path=/; max-age=${365 * 86400}; samesite=lax`;
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

/** The message for `key` in `lang`, with {placeholders} filled. */
export const translate = translator(MESSAGES);

/** Put every [data-i18n] element of the page in `lang`, and the switch in the other language. */
export function applyLanguage(lang) {
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = translate(element.dataset.i18n, lang);
  }
  const other = lang === "ja" ? "en" : "ja";
  const button = document.getElementById("lang");
  if (button) {
    button.textContent = other === "en" ? "English" : "日本語";
    button.lang = other;
  }
}

const clock = {};

/** Hours and minutes (with seconds if asked) in the event's time zone. */
export function formatTime(lang, iso, withSeconds = false) {
  if (!iso) return "–";
  const key = `${lang}:${withSeconds}`;
  clock[key] ??= new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: "Asia/Tokyo",
    hour: "2-digit",
    minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined,
    hourCycle: "h23",
  });
  return clock[key].format(new Date(iso));
}

/** When the report's figures were taken, in the event's zone: 2026年12月4日 17時05分 現在 / As of 4 Dec 2026 17:05. */
export function formatAsOf(lang, iso) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Tokyo",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(iso))
      .map((part) => [part.type, part.value]),
  );
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const time =
    lang === "ja"
      ? `${parts.year}年${Number(parts.month)}月${Number(parts.day)}日 ${Number(parts.hour)}時${parts.minute}分`
      : `${Number(parts.day)} ${months[Number(parts.month) - 1]} ${parts.year} ${parts.hour}:${parts.minute}`;
  return translate("as_of", lang, { time });
}

/** The event's title and times, as the server wrote them into the page's head. */
export function eventIdentity() {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
  return { title: meta("event-title"), starts: meta("event-starts"), ends: meta("event-ends") };
}

/** The event's day and hours in its zone: 2026年12月4日(金) 13:00–17:00 / Fri 4 Dec 2026 13:00–17:00. */
export function formatEventDate(lang, starts, ends) {
  if (!starts) return "";
  const day = new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: "Asia/Tokyo",
    year: "numeric",
    month: lang === "ja" ? "long" : "short",
    day: "numeric",
    weekday: "short",
  }).format(new Date(starts));
  const hours = ends ? `${formatTime(lang, starts)}–${formatTime(lang, ends)}` : formatTime(lang, starts);
  return `${day} ${hours}`;
}

export function formatNumber(lang, value) {
  return typeof value === "number" ? value.toLocaleString(lang === "ja" ? "ja-JP" : "en-GB") : "–";
}
