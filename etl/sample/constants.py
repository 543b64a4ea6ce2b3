"""Census figures, name tables, layout constants and incident mixes of the sample district."""

from __future__ import annotations

import numpy as np
import pandas as pd

TZ = "Asia/Shanghai"
DEFAULT_END = pd.Timestamp("2026-11-01 00:00", tz=TZ)
METRIC_CRS = "EPSG:32651"
WGS84 = "EPSG:4326"
CENTRE_LON, CENTRE_LAT = 120.09, 30.32

DISTRICT_CODE = "330106"
DISTRICT_NAME = "西湖区"

LAYERS: tuple[str, ...] = (
    "admin_area",
    "grid",
    "building",
    "household",
    "resident",
    "facility",
    "shelter",
    "road_node",
    "road_edge",
    "app_user",
    "grid_worker",
    "grid_assignment",
    "incident",
    "incident_event",
    "map_area",
)

# ----------------------------------------------------------------- layout constants
COMMUNITY_SIDE_M = 550.0
HOUSEHOLDS_PER_COMMUNITY = 1900
COMMUNITIES_PER_STREET = 12
COMMUNITIES_PER_SHELTER_ZONE = 4.0
GRID_TARGET, GRID_MIN, GRID_MAX = 400, 300, 500
ARTERIAL_SETBACK_M = 22.0  # road centreline → estate fence on an arterial
BRANCH_SETBACK_M = 10.0  # road centreline → estate fence on a branch road
ESTATE_MARGIN_M = 6.0  # estate fence → buildings
LANE_CLEAR_M = 8.0  # lane centreline → buildings
LANE_END_M = 8.0  # spine lane ends this far from the estate fence

# serpentine order of the 3 × 3 estate blocks of a community: (row from south, column)
SERPENTINE = ((2, 0), (2, 1), (2, 2), (1, 2), (1, 1), (1, 0), (0, 0), (0, 1), (0, 2))
CENTRE_SLOT = 4

# region programmes
HOUSING, SERVICE, PARK, ELDER, MARKET, SCHOOL, SPORTS = range(7)
# estate styles
OLD, MID, NEW = 0, 1, 2
STYLE_P = (0.40, 0.25, 0.35)

# slot layouts: (slot width, slot depth, gap across, gap between rows), metres
ROWS_LAYOUT = (60.0, 15.0, 10.0, 22.0)
POINTS_LAYOUT = (36.0, 25.0, 15.0, 15.0)


def _words(text: str) -> list[str]:
    """The whitespace-separated words of ``text`` (compact tables of names and numbers)."""
    return text.split()


# -------------------------------------------------------------------------- names
# common surnames with weights (national frequency, Zhejiang-leaning: 陈 吴 周 徐 沈 钱 俞)
_SURNAME_TABLE = _words(
    "王7.1 李7 张6.8 刘5.4 陈6.3 杨3.1 黄2.3 赵2.3 吴2.6 "
    "周2.4 徐2.1 孙1.5 马1.5 朱1.6 胡1.6 郭1.2 何1.3 "
    "林1.3 高1.1 罗1 郑1.2 梁0.9 谢0.8 宋0.8 唐0.8 许0.8 "
    "韩0.7 冯0.7 邓0.7 曹0.6 彭0.6 曾0.6 肖0.6 田0.6 "
    "董0.6 袁0.5 潘0.6 于0.5 蒋0.6 蔡0.5 余0.6 杜0.5 "
    "叶0.7 程0.5 苏0.4 魏0.4 吕0.4 丁0.4 任0.4 沈0.6 "
    "姚0.4 卢0.4 姜0.4 崔0.3 钟0.3 谭0.3 陆0.5 汪0.5 "
    "范0.3 金0.5 石0.3 廖0.3 贾0.3 夏0.3 韦0.3 方0.4 "
    "邵0.3 钱0.3 俞0.4 楼0.3 应0.4 章0.3 毛0.3 顾0.2 "
    "孔0.2 严0.2 洪0.1 傅0.2"
)
SURNAMES = "".join(x[0] for x in _SURNAME_TABLE)
SURNAME_WEIGHTS = np.array([float(x[1:]) for x in _SURNAME_TABLE])
GIVEN_M_OLD = "建国军华明强平伟勇刚林海东志文荣福忠金根祥德富宝兴生庆良才"
GIVEN_M_YOUNG = "浩宇轩睿泽子然天佳一铭皓博晨俊杰涛磊鹏辉帆凯航宸奕诚逸昊"
GIVEN_F_OLD = "秀英芳娟玉兰珍凤霞红梅琴丽华萍云美桂花月爱素菊娣敏静燕"
GIVEN_F_YOUNG = "婷雪慧颖琳洁倩怡欣诗涵梓萱雨思可嘉悦彤妍晴瑶菲琪璐蕾淑"
PLACE_A = "兰竹桂梅荷杏柳枫翠华金古墩文紫振星嘉绿锦德瑞和盛安康益丰蒋政庆同新花湖塘骆荆双吉"
PLACE_B = "里苑园庭湾城桥港溪浜亭庄岭坊洲渡堂荡漾埠阳泉山林苑汇景宸晖"
ESTATE_BRANDS = _words(
    "金地 万科 绿城 融创 保利 滨江 中海 华润 龙湖 招商 新城 旭辉 越秀 德信 "
    "中天 西房 杭房 大家 金隅 建发"
)
ESTATE_NEW_NAMES = _words(
    "自在城 西溪云庐 桂语江南 玫瑰园 翡翠城 春江花月 蓝庭 紫金府 锦绣天地 公元里 "
    "云栖 悦府 江南里 湖畔居 雲境 桃花源 明月江南 星河湾 海棠园 晓风印月 御园 "
    "和府 大都会 启航社 观云府 印象城 映月台 溪岸 未来城 澄园"
)
ESTATE_PHASES = ("", "一期", "二期", "三期", "四期", "东区", "西区")
ESTATE_MID_SUFFIX = ("花园", "家园", "嘉苑", "公寓", "名苑", "雅苑")
ESTATE_OLD_SUFFIX = ("新村", "小区", "苑", "西苑", "东苑", "北苑", "南苑", "坊")
REAL_STREETS = (
    ("109", "三墩镇"),
    ("006", "文新街道"),
    ("005", "翠苑街道"),
    ("008", "古荡街道"),
    ("002", "西溪街道"),
    ("001", "北山街道"),
    ("004", "灵隐街道"),
    ("010", "蒋村街道"),
    ("011", "留下街道"),
    ("012", "转塘街道"),
    ("110", "双浦镇"),
    ("009", "西湖街道"),
)
EW_ARTERIALS = ("文一西路", "余杭塘路", "文二西路", "申花路", "紫宣路", "三墩路", "文三西路")
NS_ARTERIALS = ("古墩路", "紫金港路", "丰潭路", "学院路", "花蒋路", "西园路", "益乐路")
BRANCH_REAL = ("振华路", "墩余路", "厚仁路", "星洲街", "金蓬街", "三墩街", "政苑路", "华联街")
ROAD_A = "振华厚仁星金政联同庆祥和嘉丰泰康宁安景繁育才兴文博荷蓬坊溪云"
ROAD_B = "华仁洲蓬苑联兴源安和盛德泰丰宁祥利达园明康平新塘隆昌晖"
PHONE_PREFIXES = np.array(
    _words(
        "133 134 135 136 137 138 139 150 151 152 157 158 159 182 183 187 188 130 131 132 155 "
        "156 185 186 180 181 189 153 177 199 191 198 166 173 175 176 178 184 147"
    ),
    dtype=np.int64,
)

# ---------------------------------------------------------------- census figures
# 60+ five-year bins (60–64 … 85+) of the 2020 census
ELDER_BINS = np.array([60, 65, 70, 75, 80, 85, 100])
ELDER_BIN_P = np.array([0.278, 0.280, 0.188, 0.117, 0.077, 0.060])

# household types: (name, role sequence, size choices, size probabilities)
SELF, SPOUSE, CHILD1, CHILD2, CHILD3, ELDER1, ELDER2 = range(7)
HOUSEHOLD_TYPES: tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[float, ...]], ...] = (
    ("single_young", (SELF,), (1,), (1.0,)),
    ("elder_alone", (SELF,), (1,), (1.0,)),
    ("couple", (SELF, SPOUSE), (2,), (1.0,)),
    ("elder_couple", (SELF, SPOUSE), (2,), (1.0,)),
    ("single_parent", (SELF, CHILD1), (2,), (1.0,)),
    ("elder_with_child", (SELF, ELDER1), (2,), (1.0,)),
    ("couple_child", (SELF, SPOUSE, CHILD1), (3,), (1.0,)),
    ("couple_elder", (SELF, SPOUSE, ELDER1), (3,), (1.0,)),
    ("couple_children", (SELF, SPOUSE, CHILD1, CHILD2, CHILD3), (4, 5), (0.9, 0.1)),
    (
        "three_generations",
        (SELF, SPOUSE, CHILD1, ELDER1, ELDER2, CHILD2),
        (4, 5, 6),
        (0.4, 0.35, 0.25),
    ),
)
# probability of each household type by estate style (old, mid, new)
HOUSEHOLD_TYPE_P = np.array(
    [
        [0.170, 0.100, 0.115, 0.135, 0.030, 0.030, 0.155, 0.040, 0.080, 0.145],
        [0.185, 0.075, 0.125, 0.100, 0.030, 0.025, 0.190, 0.035, 0.100, 0.135],
        [0.200, 0.050, 0.135, 0.070, 0.030, 0.020, 0.220, 0.030, 0.120, 0.125],
    ]
)
LOW_INCOME_HH_P = 0.019  # base per-household rate of 低保

# -------------------------------------------------------------------- incidents
SOURCES = ("patrol", "resident_app", "hotline_12345")
SOURCE_P = (0.5, 0.3, 0.2)
# hourly weights, 00:00 … 23:00
HOUR_W = {
    key: np.array(_words(values), dtype=float)
    for key, values in {
        "patrol_weekday": "0 0 0 0 0 0 .1 .6 2.6 4 4.4 3 1 1.8 3.4 3.9 3.4 1.6 .5 .4 .3 .1 0 0",
        "patrol_weekend": "0 0 0 0 0 0 .1 .4 1.8 2.6 2.8 2 .8 1.2 2.4 2.6 2.2 1 .3 .2 .1 0 0 0",
        "resident_app_weekday": ".3 .15 .1 .1 .1 .3 .8 1.8 2.6 3 2.8 2.2 1.8 2 2.4 2.5 2.3 2.1 "
        "2.2 2.5 2.3 1.8 1.2 .6",
        "resident_app_weekend": ".4 .2 .1 .1 .1 .2 .5 1 1.9 2.8 3.1 2.6 2 2 2.5 2.7 2.5 2.2 2.3 "
        "2.6 2.4 2 1.4 .8",
        "hotline_12345_weekday": ".1 .05 .05 .05 .05 .1 .4 1.5 3.5 4 3.8 2.5 1.5 2.5 3.5 3.5 3 "
        "2.2 1.5 1.2 1 .7 .4 .2",
        "hotline_12345_weekend": ".15 .05 .05 .05 .05 .1 .3 1 2.4 3.2 3.2 2.4 1.6 2 2.6 2.6 2.3 "
        "1.9 1.5 1.3 1.1 .8 .5 .3",
    }.items()
}
DAY_W = {  # Monday … Sunday
    "patrol": (1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.35),
    "resident_app": (0.9, 0.9, 0.9, 0.9, 0.95, 1.25, 1.2),
    "hotline_12345": (1.05, 1.0, 1.0, 1.0, 0.95, 0.8, 0.75),
}
HOLIDAYS: tuple[str, ...] = ("01-01", "05-01", "05-02", "05-03", "05-04", "05-05", "10-01", "10-02")
HOLIDAYS += ("10-03", "10-04", "10-05", "10-06", "10-07")
# category weights: (code, place, patrol, app, hotline); place: road / building
CATEGORY_MIX: tuple[tuple[str, str, float, float, float], ...] = (
    ("10101", "road", 2.0, 1.0, 1.0),
    ("10102", "road", 2.5, 2.0, 1.5),
    ("10103", "road", 0.8, 0.3, 0.3),
    ("10201", "road", 1.5, 0.5, 0.5),
    ("10202", "road", 2.0, 1.5, 1.5),
    ("10301", "road", 5.0, 3.0, 1.5),
    ("10302", "road", 1.0, 0.8, 0.5),
    ("10401", "road", 1.5, 1.0, 0.8),
    ("10402", "building", 1.0, 0.8, 0.3),
    ("10501", "building", 1.5, 1.0, 1.5),
    ("20101", "road", 13.0, 6.0, 4.0),
    ("20102", "road", 12.0, 4.0, 4.0),
    ("20201", "road", 8.0, 2.0, 1.0),
    ("20301", "building", 1.5, 3.0, 6.0),
    ("20302", "road", 2.0, 1.0, 1.5),
    ("20401", "road", 1.0, 1.2, 1.5),
    ("20402", "building", 0.1, 0.2, 0.4),
    ("20501", "road", 15.0, 12.0, 6.0),
    ("20502", "building", 1.0, 5.0, 9.0),
    ("30101", "building", 1.0, 2.5, 4.0),
    ("30201", "building", 3.0, 3.0, 2.0),
    ("30202", "building", 0.6, 0.8, 1.2),
    ("30203", "building", 0.5, 0.5, 0.8),
    ("30301", "building", 2.5, 0.5, 0.5),
    ("30401", "building", 2.0, 10.0, 5.0),
    ("30402", "building", 0.5, 4.0, 4.0),
)
HOTSPOT_SHARE = 0.25
HOTSPOT_MIX = {
    "market": {"20102": 0.35, "20101": 0.2, "20501": 0.15, "20502": 0.1, "10301": 0.1}
    | {"20201": 0.1},
    "old_estate": {"30401": 0.3, "30203": 0.1, "30202": 0.1, "30201": 0.15, "30101": 0.1}
    | {"30301": 0.1, "10102": 0.05, "20101": 0.1},
    "school_gate": {"20501": 0.6, "20102": 0.2, "10201": 0.1, "20101": 0.1},
    "construction": {"20301": 0.45, "20302": 0.35, "10202": 0.1, "20502": 0.1},
}
HOTSPOT_LABEL = {
    "market": "农贸市场周边",
    "old_estate": "",
    "school_gate": "校门口",
    "construction": "工地周边",
}
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "10101": ("井盖破损，存在安全隐患", "人行道井盖缺失", "雨水井盖松动异响"),
    "10102": ("路灯不亮", "多盏路灯夜间不亮", "路灯杆倾斜"),
    "10103": ("消防栓漏水", "消防栓被撞损坏", "消防栓缺少栓帽"),
    "10201": ("交通护栏被撞变形", "隔离护栏缺失", "护栏倒伏"),
    "10202": ("路面坑洼积水", "人行道板松动破损", "道路塌陷"),
    "10301": ("垃圾桶满溢未清运", "垃圾箱破损", "分类垃圾桶缺失"),
    "10302": ("公厕冲水设施损坏", "公厕灯具损坏", "公厕卫生差"),
    "10401": ("行道树倒伏", "树枝断裂挂在电线上", "行道树枯死缺株"),
    "10402": ("绿地被踩踏破坏", "绿化带被毁种菜", "草坪被占用堆物"),
    "10501": ("楼顶搭建违章建筑", "私自搭建阳光房", "违规圈占公共绿地搭建"),
    "20101": ("暴露垃圾未清理", "建筑垃圾随意堆放", "绿化带内有垃圾"),
    "20102": ("流动摊贩占道经营", "店铺出店经营", "早餐摊占用人行道"),
    "20201": ("墙面张贴小广告", "电线杆上小广告", "楼道内喷涂小广告"),
    "20301": ("夜间施工噪音扰民", "装修施工噪声大", "施工超时作业"),
    "20302": ("渣土车撒漏", "路面渣土未清扫", "渣土车未覆盖"),
    "20401": ("路段积水严重", "下穿通道积水", "雨水篦子堵塞积水"),
    "20402": ("楼道内杂物起火", "电动车起火", "垃圾桶着火冒烟"),
    "20501": ("机动车乱停占用人行道", "共享单车乱停放", "车辆堵塞小区出入口"),
    "20502": ("广场舞音响扰民", "夜间商铺噪音扰民", "宠物犬吠扰民"),
    "30101": ("邻里因漏水发生纠纷", "邻里因噪音发生纠纷", "停车位纠纷"),
    "30201": ("消防通道被车辆堵塞", "楼道堆放杂物堵塞通道", "消防通道被占用"),
    "30202": ("闻到燃气异味", "燃气软管老化", "违规使用液化气钢瓶"),
    "30203": ("外墙开裂", "阳台混凝土剥落", "楼体墙面空鼓脱落"),
    "30301": ("独居老人多日未出门", "独居老人需要帮助", "独居老人家中无人应答"),
    "30401": ("楼道灯损坏", "单元门禁损坏", "水管漏水"),
    "30402": ("电梯故障停运", "电梯困人", "电梯异响"),
}
REJECT_NOTES = ("重复上报", "不属于受理范围", "信息不全，无法核实")
RETURN_NOTES = ("处置不到位，退回重办", "现场核查未解决")
RESOLVE_NOTES = ("已处置完毕", "已联系相关单位处理", "已现场整改")
RATING_P = np.array([0.02, 0.03, 0.08, 0.25, 0.62])
RATING_P_BAD = np.array([0.10, 0.15, 0.25, 0.25, 0.25])

# incident event path: the maximal sequence of steps, optional ones masked per incident
PATH = (
    "reported",
    "registered",
    "dispatched",
    "in_progress",
    "escalated",
    "resolved",
    "returned",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rated",
)

MINUTE, HOUR, DAY = 60, 3600, 86400
