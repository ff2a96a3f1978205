"""The demo: the symposium of 2023-11-27 with sample registrants, and staff credentials to try it."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from checkin import staff
from checkin.errors import EventNotFound
from checkin.models import Event, Mode, Role, parse_iso
from checkin.registration import Application
from checkin.roster import import_csv
from checkin.storage import Engine, users
from checkin.storage import registrants as store
from checkin.storage.events import create_event, get_event
from checkin.storage.staff import create_token
from checkin.writes import Writes

REPO_ROOT = Path(__file__).resolve().parent.parent
SLUG = "telework2023"
DEMO_LOGIN = "admin"
SYMPOSIUM = Event(
    id=0,
    slug=SLUG,
    title="「働く、を変える」テレワークイベント",
    starts_at=parse_iso("2023-11-27T13:30:00+09:00"),
    ends_at=parse_iso("2023-11-27T16:30:00+09:00"),
    capacity=300,
    venue_name="御茶ノ水ソラシティ 2F ホール",
    venue_address="東京都千代田区神田駿河台4-6",
    map_url="https://www.openstreetmap.org/search?query=%E5%BE%A1%E8%8C%B6%E3%83%8E%E6%B0%B4%E3%82%BD%E3%83%A9%E3%82%B7%E3%83%86%E3%82%A3",
    stream_url="",
    anonymous_watch=True,
    # From the flyer of 令和5年度テレワーク月間.
    title_en="“Change How We Work”: Telework Symposium",
    summary=(
        "令和5年度テレワーク月間の締めくくりとして、表彰式（総務大臣賞・厚生労働大臣賞、地方創生担当大臣賞）と講評、"
        "受賞企業による取組事例発表等、テレワークのさらなる普及拡大に向けたシンポジウムを行います。"
    ),
    summary_en=(
        "To close Telework Month 2023, a symposium for spreading telework further: the award ceremony (awards of the "
        "Minister for Internal Affairs and Communications, the Minister of Health, Labour and Welfare and the Minister "
        "for Regional Revitalization), the judges' comments, and presentations of the award winners' practices."
    ),
    fee="無料",
    fee_en="Free",
    organisers="内閣府、総務省、厚生労働省、経済産業省、国土交通省",
    organisers_en=(
        "Cabinet Office; Ministry of Internal Affairs and Communications; Ministry of Health, Labour and Welfare; "
        "Ministry of Economy, Trade and Industry; Ministry of Land, Infrastructure, Transport and Tourism"
    ),
    programme="表彰式（総務大臣賞・厚生労働大臣賞、地方創生担当大臣賞）\n講評\n受賞企業の取組事例発表",
    programme_en="Award ceremony\nJudges' comments\nPresentations by the award winners",
    deadline="定員になり次第",
    deadline_en="When all seats are taken",
    doors_open_at=parse_iso("2023-11-27T13:00:00+09:00"),
    access="JR中央線・総武線「御茶ノ水」駅 聖橋口から徒歩1分\n東京メトロ千代田線「新御茶ノ水」駅 B2出口直結",
    access_en=(
        "1 minute from the Hijiribashi exit of JR Ochanomizu Station\n"
        "Directly connected to exit B2 of Shin-Ochanomizu Station (Tokyo Metro Chiyoda Line)"
    ),
    # The flyer names no contact address: a fictional one at a domain reserved for examples.
    contact="テレワーク月間事務局\nE-Mail: telework-office@example.jp",
    contact_en="Telework Month office\nE-mail: telework-office@example.jp",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _readings(table: str) -> dict[str, str]:
    """「漢字:ヨミ」 pairs separated by spaces, as a dict."""
    return dict(pair.split(":") for pair in table.split())


# Common family and given names with their usual readings (a few old forms such as 髙, 﨑 and 齋 too).
FAMILY_NAMES = _readings("""
    佐藤:サトウ 鈴木:スズキ 高橋:タカハシ 田中:タナカ 伊藤:イトウ 渡辺:ワタナベ 山本:ヤマモト 中村:ナカムラ
    小林:コバヤシ 加藤:カトウ 吉田:ヨシダ 山田:ヤマダ 佐々木:ササキ 山口:ヤマグチ 松本:マツモト 井上:イノウエ
    木村:キムラ 林:ハヤシ 斎藤:サイトウ 清水:シミズ 山崎:ヤマザキ 森:モリ 池田:イケダ 橋本:ハシモト
    阿部:アベ 石川:イシカワ 山下:ヤマシタ 中島:ナカジマ 石井:イシイ 小川:オガワ 前田:マエダ 岡田:オカダ
    長谷川:ハセガワ 藤田:フジタ 後藤:ゴトウ 近藤:コンドウ 村上:ムラカミ 遠藤:エンドウ 青木:アオキ 坂本:サカモト
    福田:フクダ 太田:オオタ 西村:ニシムラ 藤井:フジイ 金子:カネコ 岡本:オカモト 藤原:フジワラ 中野:ナカノ
    三浦:ミウラ 原田:ハラダ 中川:ナカガワ 松田:マツダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ
    和田:ワダ 石田:イシダ 森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ
    宮崎:ミヤザキ 横山:ヨコヤマ 高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ 谷口:タニグチ
    今井:イマイ 工藤:クドウ 高田:タカダ 増田:マスダ 丸山:マルヤマ 杉山:スギヤマ 村田:ムラタ 大塚:オオツカ
    新井:アライ 小山:コヤマ 平野:ヒラノ 藤本:フジモト 上野:ウエノ 野口:ノグチ 武田:タケダ 松井:マツイ
    千葉:チバ 岩崎:イワサキ 菅原:スガワラ 木下:キノシタ 久保:クボ 佐野:サノ 野村:ノムラ 松尾:マツオ
    市川:イチカワ 菊地:キクチ 杉本:スギモト 古川:フルカワ 大西:オオニシ 島田:シマダ 水野:ミズノ 桜井:サクライ
    高野:タカノ 吉川:ヨシカワ 山内:ヤマウチ 西田:ニシダ 飯田:イイダ 西川:ニシカワ 小松:コマツ 北村:キタムラ
    安田:ヤスダ 五十嵐:イガラシ 川口:カワグチ 平田:ヒラタ 関:セキ 中田:ナカタ 久保田:クボタ 服部:ハットリ
    岩田:イワタ 土屋:ツチヤ 川崎:カワサキ 福島:フクシマ 本田:ホンダ 辻:ツジ 樋口:ヒグチ 秋山:アキヤマ
    田口:タグチ 永井:ナガイ 山中:ヤマナカ 中西:ナカニシ 吉村:ヨシムラ 川上:カワカミ 石原:イシハラ 大橋:オオハシ
    松岡:マツオカ 馬場:ババ 浜田:ハマダ 森本:モリモト 星野:ホシノ 矢野:ヤノ 浅野:アサノ 大久保:オオクボ
    松下:マツシタ 髙橋:タカハシ 山﨑:ヤマサキ 齋藤:サイトウ 渡邉:ワタナベ 長尾:ナガオ 片山:カタヤマ 荒木:アラキ
""")
GIVEN_NAMES = _readings("""
    翔太:ショウタ 健:ケン 大輔:ダイスケ 拓也:タクヤ 直樹:ナオキ 大樹:ダイキ 翔:ショウ 健太:ケンタ
    亮:リョウ 誠:マコト 浩:ヒロシ 隆:タカシ 学:マナブ 修:オサム 剛:ツヨシ 達也:タツヤ
    和也:カズヤ 哲也:テツヤ 雄一:ユウイチ 健一:ケンイチ 淳:ジュン 徹:トオル 実:ミノル 勇気:ユウキ
    蓮:レン 悠真:ユウマ 湊:ミナト 陽翔:ハルト 大和:ヤマト 颯太:ソウタ 悠斗:ユウト 陸:リク
    拓海:タクミ 智也:トモヤ 慎也:シンヤ 航:ワタル 秀樹:ヒデキ 正人:マサト 康介:コウスケ 圭:ケイ
    俊介:シュンスケ 一郎:イチロウ 太郎:タロウ 次郎:ジロウ 浩二:コウジ 聡:サトシ 優太:ユウタ 光:ヒカル
    真一:シンイチ 博之:ヒロユキ 花子:ハナコ 美咲:ミサキ 陽子:ヨウコ 恵子:ケイコ 裕子:ユウコ 直美:ナオミ
    由美:ユミ 真由美:マユミ 智子:トモコ 久美子:クミコ 美穂:ミホ 彩:アヤ 愛:アイ 舞:マイ
    千尋:チヒロ 沙織:サオリ 香織:カオリ 奈々:ナナ 明美:アケミ 幸子:サチコ 早紀:サキ 結衣:ユイ
    陽菜:ヒナ 葵:アオイ 凛:リン 結菜:ユイナ 芽依:メイ 優花:ユウカ 彩花:アヤカ 七海:ナナミ
    遥:ハルカ さくら:サクラ 桃子:モモコ 理恵:リエ 真理子:マリコ 典子:ノリコ 洋子:ヨウコ 和子:カズコ
    京子:キョウコ 順子:ジュンコ 友美:トモミ 里奈:リナ 瞳:ヒトミ 薫:カオル 静香:シズカ 加奈子:カナコ
    﨑子:サキコ 美紀:ミキ 涼子:リョウコ 純一:ジュンイチ
""")
_PUBLIC = _words("""総務省 厚生労働省 経済産業省 国土交通省 文部科学省 デジタル庁 東京都 大阪府 神奈川県 千代田区
    横浜市 札幌市 仙台市 名古屋市 神戸市 広島市 福岡市 那覇市 つくば市 松本市""")
_WORDS = _words("青葉 北斗 若葉 白樺 潮風 暁 碧 琥珀 鳴海 月見 星川 風早 朝霧 結城 東雲 港南 緑丘 桜台 千歳 高砂")
_TRADES = _words("""商事 電機 製作所 建設 システムズ 物流 食品 印刷 損害保険 コンサルティング 不動産 化学 ネットワークス
    出版 総合研究所 ソリューションズ 工業 メディカル""")


def _organisation(rng: random.Random) -> str:
    """A fictional employer: mostly companies, some public offices, universities and associations, or none."""
    kind = rng.random()
    word = rng.choice(_WORDS)
    if kind < 0.1:
        return ""
    if kind < 0.3:
        return rng.choice(_PUBLIC)
    if kind < 0.4:
        return f"{word}大学"
    if kind < 0.5:
        return (
            rng.choice(("一般社団法人", "公益財団法人", "特定非営利活動法人"))
            + f"{word}{rng.choice(('協会', '財団', 'ネット'))}"
        )
    trade = rng.choice(_TRADES)
    return f"株式会社{word}{trade}" if rng.random() < 0.6 else f"{word}{trade}株式会社"


def generated_applications(count: int, seed: int = 2023) -> list[Application]:
    """Fictional registrants when no sample file is at hand: readings that match, and every name different
    up to the number of combinations (~15,000); past that (benchmarks of 100,000) names repeat, as in life."""
    rng = random.Random(seed)
    combinations = [(family, given) for family in FAMILY_NAMES for given in GIVEN_NAMES]
    pairs = rng.sample(combinations, min(count, len(combinations)))
    pairs += [rng.choice(combinations) for _ in range(count - len(pairs))]
    return [
        Application(
            name=f"{family} {given}",
            kana=f"{FAMILY_NAMES[family]} {GIVEN_NAMES[given]}",
            email=f"demo{number:04d}@example.jp",
            organisation=_organisation(rng),
            mode=Mode.VENUE if rng.random() < 0.5 else Mode.ONLINE,
        )
        for number, (family, given) in enumerate(pairs)
    ]


@dataclass(frozen=True)
class DemoCredentials:
    organiser_login: str
    organiser_password: str
    kiosk_token: str
    dashboard_token: str


def sample_file(environ: Mapping[str, str] | None = None) -> Path:
    """The registrant sample: $CHECKIN_DEMO_CSV, else ../shared/data/ beside the repository."""
    env = os.environ if environ is None else environ
    return Path(env.get("CHECKIN_DEMO_CSV") or REPO_ROOT.parent / "shared" / "data" / "registrants-sample.csv")


def seed_registrants(db: Engine, event: Event, now: float, sample: Path | None = None) -> int:
    """Fill the demo event from the sample file, or with generated registrants where it is absent; how many."""
    sample = sample or sample_file()
    if sample.is_file():
        data = sample.read_bytes()
        report = asyncio.run(import_csv(Writes(db), event, data, now=now, skip_bad_rows=True, actor="demo"))
        return report.created + report.updated + report.unchanged
    apps = generated_applications(200)
    for number, app in enumerate(apps, start=1):
        db.write_sync(store.register, event, app, now, source="import", ref_no=f"R{number:07d}", enforce_open=False)
    return len(apps)


def ensure_demo(db: Engine, now: float) -> tuple[Event, DemoCredentials | None]:
    """Create the demo event once; on the first run also staff credentials (printed by `serve --demo`)."""
    try:
        return db.read_sync(get_event, SLUG), None
    except EventNotFound:
        pass
    event = db.write_sync(create_event, SYMPOSIUM, now)
    seed_registrants(db, event, now)
    _, kiosk = db.write_sync(create_token, event.id, Role.KIOSK, "受付1", now, "demo")
    _, dashboard = db.write_sync(create_token, event.id, Role.DASHBOARD, "projector", now, "demo")
    password = secrets.token_urlsafe(9)
    password_hash = staff.hash_password(password)
    if db.read_sync(users.find_user, DEMO_LOGIN) is None:
        db.write_sync(users.create_user, DEMO_LOGIN, password_hash, Role.ORGANISER, now, "demo")
    else:
        db.write_sync(users.set_password, DEMO_LOGIN, password_hash, now, "demo")
    return event, DemoCredentials(DEMO_LOGIN, password, kiosk, dashboard)
