"""Fixed reference data of the simulated operator: names, cities, plans, products and
the recurring service activities. Proportions follow domain.md where it gives them."""

from __future__ import annotations

from dataclasses import dataclass

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁欣怡"
    "佳雨婷雪梅琳晶晨阳波斌嘉琪子涵思博文轩浩然梓萱志诚建国建华海燕春梅"
)
# Cities of one province (the operator is provincial), with population-like weights.
CITIES = [
    ("广州", 16),
    ("深圳", 16),
    ("东莞", 9),
    ("佛山", 8),
    ("惠州", 5),
    ("中山", 4),
    ("汕头", 5),
    ("江门", 4),
    ("湛江", 6),
    ("茂名", 5),
    ("肇庆", 4),
    ("揭阳", 5),
    ("梅州", 3),
    ("清远", 3),
    ("珠海", 2),
    ("韶关", 2),
    ("潮州", 2),
    ("阳江", 2),
    ("河源", 2),
    ("汕尾", 2),
    ("云浮", 2),
]

BRANDS = ["全球通", "动感地带", "神州行"]  # GoTone, M-Zone, Easyown
BRAND_SHARE = [0.20, 0.25, 0.55]
POSTPAID_SHARE = [0.90, 0.15, 0.03]
ARPU_MEDIAN = [180.0, 60.0, 35.0]


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    generation: str
    fee: float
    data_mb: int
    voice: int
    sms: int
    brand: int  # index into BRANDS


PLANS = [
    Plan("GT4G128", "全球通4G商旅套餐128元", "4G", 128, 3072, 500, 200, 0),
    Plan("GT4G188", "全球通4G商旅套餐188元", "4G", 188, 6144, 800, 300, 0),
    Plan("GT4G288", "全球通4G尊享套餐288元", "4G", 288, 12288, 1500, 500, 0),
    Plan("GT3G88", "全球通3G畅聊套餐88元", "3G", 88, 500, 400, 100, 0),
    Plan("MZ4G38", "动感地带4G校园套餐38元", "4G", 38, 2048, 100, 200, 1),
    Plan("MZ4G58", "动感地带4G网聊套餐58元", "4G", 58, 4096, 150, 300, 1),
    Plan("MZ3G28", "动感地带音乐套餐28元", "3G", 28, 300, 60, 300, 1),
    Plan("SZ18", "神州行畅听卡18元", "3G", 18, 100, 200, 50, 2),
    Plan("SZ4G28", "神州行4G流量卡28元", "4G", 28, 1024, 100, 50, 2),
    Plan("SZ8", "神州行家园卡8元", "3G", 8, 30, 50, 20, 2),
    Plan("SZ4G48", "神州行4G随心卡48元", "4G", 48, 2048, 200, 100, 2),
    Plan("GT5G398", "全球通5G至尊套餐398元", "5G", 398, 40960, 3000, 1000, 0),
]

CONTACT_CHANNELS = ["sms", "mms", "outbound_call", "app", "web", "store"]
CHANNEL_PREF_SHARE = [0.30, 0.10, 0.20, 0.20, 0.10, 0.10]
WINDOWS = [("morning", 9, 12), ("afternoon", 14, 17), ("evening", 19, 21)]
PROMOTION_FORMS = ["general_prize", "lottery", "ranking", "first_come", "voting"]
GIFT_TYPES = [
    "consumption_card",
    "film_music",
    "parent_child",
    "sports",
    "shopping",
    "information",
    "dining",
    "gift",
    "points",
    "call_credit",
    "data",
    "lecture",
]
TIMING_TYPES = ["everyday", "hot_topic", "holiday"]
TAG_CODES = [
    "arpu_band",
    "price_sensitive",
    "hotline_preferring",
    "web_preferring",
    "mobile_internet_active",
    "device_age_months",
    "device_4g_capable",
]
ARPU_BANDS = [(50, "lt50"), (100, "50_100"), (200, "100_200"), (500, "200_500"), (1e12, "ge500")]
INDICATORS = ["network", "tariff", "billing", "hotline", "store", "reminders"]

# KANO classes (docs/domain.md#kano) the simulated customers answer by, per brand, one letter per
# indicator above: M must-be (a low score pulls overall satisfaction down, a high one does
# not lift it), O one-dimensional (both, in proportion), A attractive (a high score lifts
# it, a low one does not hurt). Billing is one-dimensional for every brand; network is a
# must-be for M-Zone and Easyown but one-dimensional for GoTone, whose rural customers
# have network as their short board (world.build_static): pooled with the urban ones,
# that segment difference reads as a must-be shape, so the KANO mart must adjust for
# segment to name it right (issue 34). The rest differ by brand, so a group's class has to
# be found per group.
KANO_CLASSES = {"M": "must_be", "O": "one_dimensional", "A": "attractive"}
KANO = ["OOOMAO", "MAOOOA", "MOOOAM"]  # GoTone, M-Zone, Easyown

# The service standard's items (contract version 4) as the simulated BI's mystery-shopper
# and audit programmes know them: (item_code, method, channel or process, time limit in
# minutes or None). The warehouse's copy is the seed service_standard_items.csv
# (tests/test_service_standard.py checks that they agree).
STANDARD_ITEMS = [
    ("NW01", "pt", "fault_repair", 2880),
    ("NW02", "pt", "fault_repair", None),
    ("TF01", "ms", "store", None),
    ("TF02", "pt", "plan_change", None),
    ("BL01", "pt", "complaint_handling", 1440),
    ("BL02", "ms", "hotline", None),
    ("BL03", "pt", "credit_boot", 120),
    ("HL01", "ms", "hotline", None),
    ("HL02", "ms", "hotline", None),
    ("ST01", "ms", "store", None),
    ("ST02", "pt", "sim_replacement", 20),
    ("RM01", "pt", "reminder_dispatch", 60),
    ("RM02", "pt", "reminder_dispatch", None),
    ("RM03", "pt", "reminder_dispatch", None),
]
AUDITED_PROCESSES = [
    "reminder_dispatch",
    "fault_repair",
    "sim_replacement",
    "complaint_handling",
    "credit_boot",
    "plan_change",
]
BRAND_CODES = ["gotone", "mzone", "easyown"]  # BRANDS in the warehouse's codes


@dataclass(frozen=True)
class CareActivity:
    """A monthly differentiated-care activity aimed at one segment of the pool
    (docs/domain.md#dissatisfied-pool)."""

    slot: int
    segment: str
    name: str
    product: str
    channel: str
    promotion_form: str
    gift_type: str
    reach_rate: float
    participation_rate: float  # among reached targets whose preferences it fits on average
    true_effect: float  # satisfaction points gained by a participant


CARE_ACTIVITIES = [
    CareActivity(
        1,
        "explicitly_dissatisfied",
        "不满意客户关怀回访",
        "SP_CUSTOMER_MANAGER",
        "outbound_call",
        "none",
        "call_credit",
        0.80,
        0.20,
        7.0,
    ),
    CareActivity(
        2,
        "tariff_sensitive",
        "资费敏感客户套餐优化关怀",
        "SP_ALLOWANCE_REMIND",
        "sms",
        "general_prize",
        "call_credit",
        0.85,
        0.22,
        5.0,
    ),
    CareActivity(
        3,
        "hotline_preferring",
        "热线偏好客户主动服务",
        "SP_REALTIME_BILL",
        "outbound_call",
        "first_come",
        "points",
        0.75,
        0.38,
        4.0,
    ),
    CareActivity(
        4,
        "web_preferring",
        "网厅偏好客户自助服务推广",
        "SP_EBILL",
        "web",
        "lottery",
        "data",
        0.60,
        0.17,
        6.0,
    ),
    CareActivity(
        5,
        "mobile_internet_active",
        "移动互联网活跃客户满意100",
        "SP_SAT100_MMS",
        "mms",
        "lottery",
        "data",
        0.70,
        0.30,
        5.0,
    ),
]
# Priority when a customer is in several segments: one care activity a month at most.
SEGMENT_PRIORITY = [a.segment for a in CARE_ACTIVITIES]


@dataclass(frozen=True)
class MarketingCampaign:
    slot: int
    name: str
    product: str
    promotion_form: str
    gift_type: str
    timing_type: str


MARKETING_CAMPAIGNS = [
    MarketingCampaign(6, "VIP俱乐部积分抽奖", "SP_VIP_CLUB", "lottery", "points", "everyday"),
    MarketingCampaign(
        7, "合作商户美食节", "SP_PARTNER_MERCHANTS", "first_come", "dining", "holiday"
    ),
    MarketingCampaign(
        8, "亲子知识讲座报名", "SP_KNOWLEDGE_LECTURE", "voting", "parent_child", "hot_topic"
    ),
]


# BOSS's service-product catalogue as the simulated BOSS knows it; the warehouse's copy is
# the seed service_products.csv (tests/test_contract.py checks that they agree).
SERVICE_PRODUCT_CODES = (
    "SP_REALTIME_BILL",
    "SP_EBILL",
    "SP_MMS_BILL",
    "SP_BALANCE_QUERY",
    "SP_ALLOWANCE_QUERY",
    "SP_ALLOWANCE_REMIND",
    "SP_PAYMENT_REMIND",
    "SP_SUSPEND_REMIND",
    "SP_REMINDER_DIY",
    "SP_CALL_FORWARD",
    "SP_CUSTOMER_MANAGER",
    "SP_VIP_LOUNGE",
    "SP_PREPAY_VIP",
    "SP_CREDIT_BOOT",
    "SP_REMOTE_SIM",
    "SP_SPARE_CARD",
    "SP_STORE_APPT",
    "SP_HEALTH_TIPS",
    "SP_HOSPITAL_BOOKING",
    "SP_SAT100_MMS",
    "SP_ENT_MAGAZINE",
    "SP_PARTNER_MERCHANTS",
    "SP_VIP_CLUB",
    "SP_AIRPORT_VIP",
    "SP_BIZ_COMMUNITY",
    "SP_FREE_HEALTH_CHECK",
    "SP_BIRTHDAY_GREETING",
    "SP_KNOWLEDGE_LECTURE",
    "SP_KNOWLEDGE_SMS",
)


def service_product_codes() -> tuple[str, ...]:
    """Codes of the simulated BOSS's service-product catalogue."""
    return SERVICE_PRODUCT_CODES
