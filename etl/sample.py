"""Generate a synthetic but plausible sample district (区) around 三墩镇, Hangzhou, layer by layer.

:func:`generate_district` builds, from a household count and a seed, every layer the
database holds for a district: admin areas (district → street → community → estate),
grids, buildings, households, residents, facilities, shelters, the road network,
users, grid workers and their assignments, and six months of incidents with their full
histories.  The output is deterministic for ``(households, seed, end)`` and scales from
2,000 to 2,000,000 households (everything is vectorised with numpy, shapely 2 and
pyarrow strings; there is no loop per building, household or resident).

Geometry is built in UTM 51N (EPSG:32651) and returned in WGS84 (EPSG:4326).

Published figures the generator is calibrated on
-----------------------------------------------
* **Population** — 7th national population census of China (2020), communiqué no. 5
  and the 2020 census tabulation: aged 0–14 17.95 %, 15–59 63.35 %, 60+ 18.70 %,
  65+ 13.50 %; five-year shares within 60+ (60–64 27.8 %, 65–69 28.0 %, 70–74 18.8 %,
  75–79 11.7 %, 80–84 7.7 %, 85+ 6.0 %); sex ratio 105.07 men per 100 women;
  average family household size 2.62; household sizes 1 person 25.4 %, 2 29.7 %,
  3 21.0 %, 4 13.2 %, 5 6.2 %, 6+ 4.6 %.
* **Disability** — second China national sample survey on disability (2006): 6.34 %
  of the population, prevalence rising steeply with age; mobility impairment
  (肢体/行动不便) concentrated in the oldest old.  Modelled as disabled 1.5 % under 15,
  3.5 % at 15–59, 14 % at 60–74 and 27 % at 75+; mobility-impaired 0.2 % under 60, 2 %
  at 60–74 and 22 % at 75+ (≈2 % overall).
* **Minimum living allowance (低保)** — about 2 % of residents, granted per
  household, more often to elderly people living alone and single parents.
* **Communities** — an urban community (社区) in Hangzhou covers about 30 ha
  (≈550 m × 550 m), holds about 9 estates (小区), ~1,900 households and ~5,000–5,800
  residents (community household counts drawn between ≈1,250 and 2,550); a street
  office (街道) has a few to a few dozen communities (here ~12).
* **Grids** — Zhejiang's grid-management guidance: one grid per 300–500 households
  (here ~400), one full-time grid worker per grid.
* **Buildings** — 多层 slab blocks (5–7 floors, 2–3 units, 2 dwellings per floor per
  unit, ≈60 m × 12 m) in older estates, 小高层 (11–18 floors) in middle-aged ones and
  高层 towers (18–33 floors, 1–2 units, 2–4 dwellings per floor per unit) in new ones;
  row spacing ≈1.2 × building height (Hangzhou sunlight spacing), 75–95 % occupancy.
* **Facilities** — GB 50180-2018 (urban residential area planning: 5/10/15-minute life
  circles) for a community service centre, a community health station (社区卫生服务站),
  a pocket park per community, elder care per 2–3 communities and a primary school
  (classes of 45) per ~4 communities.
* **Shelters** — GB 51143-2015 (防灾避难场所设计规范): emergency shelters (紧急) for
  on-the-spot evacuation at ≈1 m² of effective area per person, short-term fixed
  shelters (固定) in school grounds at ≈2 m² per person serving a responsibility zone of
  4–6 communities (which they must hold 15 % of).
* **Roads** — arterials (红线 ≈40 m) on community boundaries at 50 km/h, branch roads
  (≈16–20 m) between estates at 30 km/h, estate lanes at 15 km/h; walking 1.2 m/s.
  Estate lanes are walkable and drivable (fire-engine and resident access at low
  speed); a few branch roads are one-way.
* **Incidents** — CJ/T 214 / GB/T 30428 categories (:mod:`grids.categories`) with a mix
  dominated by streetscape and parking events; sources patrol ≈50 %, resident app
  ≈30 %, 12345 hotline ≈20 %; daily (few at night, peaks mid-morning and afternoon) and
  weekly (fewer patrol reports, more app reports at weekends) rhythms; a handful of
  hotspots (market streets with stalls, old estates with repairs, school gates,
  construction sites).

Contract notes for the loader
-----------------------------
* String columns use pandas' ``str`` dtype (pyarrow-backed); missing values are NaN.
* ``deadline`` is the dispatch time plus the category time limit (the deadline clock
  starts at 派遣, as in the design) and NaT until dispatch.
* Buildings are ``Polygon`` (the table wants ``MULTIPOLYGON``: promote with ST_Multi);
  school campuses are not estates and carry no building footprints.
* ``reporter_username`` / ``actor`` / ``username`` refer to ``app_user.username``;
  ``actor`` may also be ``"system"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

import geopandas as gpd
import shapely
from pyproj import Geod, Transformer

from gis import clock
from grids.categories import DEFAULT_CATEGORIES

__all__ = ["DEFAULT_END", "LAYERS", "generate_district"]

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
HOLIDAYS = ("01-01", "05-01", "05-02", "05-03", "05-04", "05-05", "10-01", "10-02")
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
STEPS = (
    "layout",
    "grids",
    "estates",
    "buildings",
    "households",
    "residents",
    "identities",
    "facilities",
    "roads",
    "people at work",
    "incidents",
    "frames",
)

MINUTE, HOUR, DAY = 60, 3600, 86400


# =========================================================================== helpers


def _strings(values: Any) -> pa.Array:
    """A pyarrow string array from a Python sequence (``None`` stays null)."""
    return pa.array(list(values), type=pa.string())


def _take(values: Any, index: np.ndarray) -> pa.Array:
    """Vectorised lookup: ``values[index]`` as a pyarrow string array."""
    table = values if isinstance(values, pa.Array) else _strings(values)
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def _join(*parts: Any) -> pa.Array:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _int_str(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings, zero-padded to ``width``."""
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(out, width=width, padding="0") if width else out


def _ascii(chars: np.ndarray) -> pa.Array:
    """Rows of an ``(n, k)`` uint8 array of ASCII codes as a string array."""
    chars = np.ascontiguousarray(chars, dtype=np.uint8)
    n, k = chars.shape
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(k), n, [None, pa.py_buffer(chars)])
    return fixed.cast(pa.binary()).cast(pa.string())


def _str(values: Any) -> pd.Series:
    """A pandas ``str`` column (pyarrow-backed; missing values are NaN)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values, dtype="str")
    return pd.Series(list(values), dtype="str")


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _group_rank(groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def _group_rank_start(groups: np.ndarray) -> np.ndarray:
    """Index of the first element of each element's run of equal (sorted) ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    return np.maximum.accumulate(np.where(start, np.arange(n), 0))


def _bilinear(quads: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points of bilinear patches: corners SW, SE, NE, NW ``(..., 4, 2)`` at ``(u, v)``."""
    u = np.asarray(u, dtype=float)[..., None]
    v = np.asarray(v, dtype=float)[..., None]
    return (
        (1 - u) * (1 - v) * quads[..., 0, :]
        + u * (1 - v) * quads[..., 1, :]
        + u * v * quads[..., 2, :]
        + (1 - u) * v * quads[..., 3, :]
    )


def _rects(quads: np.ndarray, u0: Any, u1: Any, v0: Any, v1: Any) -> np.ndarray:
    """Closed rings ``(n, 5, 2)`` of the images of uv rectangles in bilinear patches.

    A bilinear map sends lines of constant u or v to straight lines, so the image of an
    axis-aligned uv rectangle is exactly the quad through its four mapped corners.
    """
    us = np.stack([u0, u1, u1, u0, u0], axis=-1)
    vs = np.stack([v0, v0, v1, v1, v0], axis=-1)
    return _bilinear(quads[:, None], us, vs)


def _lonlat(xy: np.ndarray) -> np.ndarray:
    """UTM 51N coordinates ``(..., 2)`` to lon/lat (vectorised)."""
    lon, lat = _to_wgs84().transform(xy[..., 0], xy[..., 1])
    return np.stack([np.asarray(lon), np.asarray(lat)], axis=-1)


def _to_wgs84() -> Transformer:
    return Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons (or MultiPolygons) as MultiPolygons."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    single = shapely.get_type_id(geoms) == 3
    if single.any():
        out[single] = shapely.multipolygons(geoms[single][:, None])
    out[~single] = geoms[~single]
    return out


def _name_pool(rng: np.random.Generator, *parts: Any) -> list[str]:
    """Every combination of the given word lists, shuffled."""
    names = [""]
    for part in parts:
        names = [a + b for a in names for b in part]
    return [names[i] for i in rng.permutation(len(names))]


def _pick_names(pool: list[str], n: int, *, number: bool = True) -> list[str]:
    """``n`` names from a pool, cycling when it runs out (numbering repeats if ``number``)."""
    out = []
    for i in range(n):
        name = pool[i % len(pool)]
        out.append(name if i < len(pool) or not number else f"{name}{i // len(pool) + 1}")
    return out


def _person_names(
    rng: np.random.Generator, male: np.ndarray, old: np.ndarray, surname: np.ndarray | None = None
) -> pa.Array:
    """Chinese names: a common surname and one or two given characters (vectorised)."""
    n = len(male)
    if surname is None:
        surname = rng.choice(len(SURNAMES), n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    pools = [GIVEN_F_YOUNG, GIVEN_F_OLD, GIVEN_M_YOUNG, GIVEN_M_OLD]
    offsets = np.cumsum([0] + [len(p) for p in pools])
    table = _strings(list("".join(pools)))
    pool = 2 * male.astype(np.int64) + old.astype(np.int64)
    size = np.diff(offsets)[pool]
    first = offsets[pool] + (rng.random(n) * size).astype(np.int64)
    second = first + 1 + (rng.random(n) * (size - 1)).astype(np.int64)
    second = np.where(second >= offsets[pool] + size, second - size, second)  # ≠ first
    two = rng.random(n) < np.where(old, 0.55, 0.8)
    given2 = pc.if_else(pa.array(two), _take(table, second), pa.scalar(""))
    return _join(_take(list(SURNAMES), surname), _take(table, first), given2)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plausible 11-digit mainland mobile numbers as int64."""
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)]
    return prefix * 100_000_000 + rng.integers(0, 100_000_000, n)


def id_check_char(first17: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters (as ASCII codes) of ``(n, 17)`` digit arrays.

    Parameters
    ----------
    first17
        Integer array ``(n, 17)`` of the first 17 digits of PRC resident ID numbers.

    Returns
    -------
    numpy.ndarray
        uint8 ASCII codes of the 18th character (``0``–``9`` or ``X``).
    """
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = np.zeros(len(first17), dtype=np.int64)
    for k, w in enumerate(weights):  # column by column: no (n, 17) int64 temporary
        total += first17[:, k].astype(np.int64) * w
    check = (12 - total % 11) % 11
    return np.where(check == 10, ord("X"), ord("0") + check).astype(np.uint8)


def _times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds (float, NaN = missing) as a tz-aware Asia/Shanghai series."""
    seconds = np.asarray(seconds, dtype=float)
    ns = np.where(np.isnan(seconds), 0, np.round(seconds * 1e9)).astype(np.int64)
    values = ns.view("datetime64[ns]").copy()
    values[np.isnan(seconds)] = np.datetime64("NaT")
    return pd.Series(values).dt.tz_localize("UTC").dt.tz_convert(TZ)


def _end_timestamp(end: datetime | None) -> pd.Timestamp:
    """The end of the incident window, tz-aware in Asia/Shanghai."""
    if end is None:
        return pd.Timestamp(clock.now()).tz_convert(TZ).floor("h")
    ts = pd.Timestamp(end)
    return ts.tz_localize(TZ) if ts.tzinfo is None else ts.tz_convert(TZ)


# ======================================================================= the builder


@dataclass
class _District:
    """Working state of the generator: arrays shared between the stages."""

    households: int
    rng: np.random.Generator
    end: pd.Timestamp
    months: int
    incidents_per_household: float
    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    a: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------- layout
    def layout(self) -> None:
        """Communities on a jittered lattice, streets and shelter zones as runs of a path."""
        rng, a = self.rng, self.a
        n = max(1, round(self.households / HOUSEHOLDS_PER_COMMUNITY))
        # lattice nx × ny with ny odd (so the band path below is continuous), near square
        best: tuple[float, int, int] | None = None
        for ny in range(1, 2 * math.isqrt(n) + 4, 2):
            nx = math.ceil(n / ny)
            cost = abs(math.log(nx / ny)) + 0.5 * (nx * ny - n) / n
            if best is None or cost < best[0]:
                best = (cost, nx, ny)
        assert best is not None
        _, nx, ny = best
        # a Hamiltonian path through the cells: bands of 3 columns, rows serpentine
        ci, cj = np.meshgrid(np.arange(nx), np.arange(ny))
        ci, cj = ci.ravel(), cj.ravel()
        band = ci // 3
        width = np.minimum(3, nx - 3 * band)
        r = np.where(band % 2 == 0, cj, ny - 1 - cj)
        c = ci - 3 * band
        serp = np.where(r % 2 == 0, c, width - 1 - c)
        order = np.lexsort((serp, r, band))[:n]
        a["nx"], a["ny"], a["n_comm"] = nx, ny, n
        a["comm_ci"], a["comm_cj"] = ci[order], cj[order]

        # community household counts and the streets / shelter zones along the path
        if n == 1:
            a["comm_hh"] = np.array([self.households], dtype=np.int64)
        else:
            a["comm_hh"] = _apportion(self.households, rng.uniform(0.65, 1.35, n))
        n_streets = max(1, round(n / COMMUNITIES_PER_STREET))
        street = np.arange(n) * n_streets // n
        zone = np.empty(n, dtype=np.int64)
        zones = 0
        for s in range(n_streets):
            members = np.flatnonzero(street == s)
            k = max(1, round(len(members) / COMMUNITIES_PER_SHELTER_ZONE))
            zone[members] = zones + np.arange(len(members)) * k // len(members)
            zones += k
        a["comm_street"], a["comm_zone"], a["n_streets"], a["n_zones"] = (
            street,
            zone,
            n_streets,
            zones,
        )

        # jittered community corners (UTM), then the fine lattice of estate blocks
        centre = np.array(
            Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True).transform(
                CENTRE_LON, CENTRE_LAT
            )
        )
        jitter = np.clip(rng.normal(0, 15, (ny + 1, nx + 1, 2)), -30, 30)
        gi, gj = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1))
        corners = np.stack([gi, gj], axis=-1) * COMMUNITY_SIDE_M + jitter
        corners += centre - np.array([nx, ny]) * COMMUNITY_SIDE_M / 2
        fi = np.arange(3 * nx + 1)
        fj = np.arange(3 * ny + 1)
        i = np.minimum(fi // 3, nx - 1)
        j = np.minimum(fj // 3, ny - 1)
        fu = (fi - 3 * i) / 3
        fv = (fj - 3 * j) / 3
        quads = np.stack(
            [
                corners[j][:, i],
                corners[j][:, i + 1],
                corners[j + 1][:, i + 1],
                corners[j + 1][:, i],
            ],
            axis=-2,
        )
        fine = _bilinear(quads, fu[None, :], fv[:, None])
        inner = ((fj % 3 != 0)[:, None] & (fi % 3 != 0)[None, :])[..., None]
        fine = fine + inner * np.clip(rng.normal(0, 5, fine.shape), -8, 8)
        a["fine"] = fine

        # blocks: 9 per community in serpentine order, block b = 9 * community + slot
        serp_rc = np.array(SERPENTINE)
        comm = np.repeat(np.arange(n), 9)
        slot = np.tile(np.arange(9), n)
        lr, lc = serp_rc[slot, 0], serp_rc[slot, 1]
        bj = 3 * a["comm_cj"][comm] + lr
        bi = 3 * a["comm_ci"][comm] + lc
        a["blk_comm"], a["blk_slot"], a["blk_lr"], a["blk_lc"] = comm, slot, lr, lc
        a["blk_i"], a["blk_j"] = bi, bj
        a["blk_quad"] = np.stack(
            [fine[bj, bi], fine[bj, bi + 1], fine[bj + 1, bi + 1], fine[bj + 1, bi]], axis=1
        )
        exists = np.zeros((3 * ny, 3 * nx), dtype=bool)
        exists[bj, bi] = True
        a["blk_exists"] = exists

        # programmes: a service block in the centre, a school per shelter zone, some
        # elder-care homes and markets; region 0 = north, 1 = south-west, 2 = south-east
        prog = np.zeros((9 * n, 3), dtype=np.int64)
        centre_b = np.arange(n) * 9 + CENTRE_SLOT
        prog[centre_b, 1], prog[centre_b, 2] = SERVICE, PARK
        others = np.array([s for s in range(9) if s != CENTRE_SLOT])
        pick = rng.permuted(np.tile(others, (n, 1)), axis=1)
        school_comm = np.array([rng.choice(np.flatnonzero(zone == z)) for z in range(zones)])
        school_b = school_comm * 9 + pick[school_comm, 0]
        prog[school_b] = (SCHOOL, SPORTS, SPORTS)
        elder = rng.random(n) < 0.42
        elder_b = np.arange(n)[elder] * 9 + pick[elder, 1]
        prog[elder_b, 2] = ELDER
        market = rng.random(n) < 0.35
        market_b = np.arange(n)[market] * 9 + pick[market, 2]
        prog[market_b, 1] = MARKET
        a["prog"] = prog
        a["is_estate"] = prog[:, 0] != SCHOOL
        a["school_b"] = np.full(n, -1)
        a["school_b"][school_comm] = school_b

    # -------------------------------------------------------------------- grids
    def grids(self) -> None:
        """Cut each community's serpentine of blocks into grids of 300–500 households."""
        rng, a = self.rng, self.a
        n = a["n_comm"]
        blk_grid = np.full(9 * n, -1, dtype=np.int64)
        blk_hh = np.zeros(9 * n, dtype=np.int64)
        grid_comm, grid_hh, grid_first = [], [], []
        housing_w = 2.0 * (a["prog"][:, 0] == HOUSING) + (a["prog"][:, 1:] == HOUSING).sum(1)
        for k in range(n):
            size = int(a["comm_hh"][k])
            lo, hi = math.ceil(size / GRID_MAX), max(1, size // GRID_MIN)
            g = int(np.clip(round(size / GRID_TARGET), lo, hi)) if lo <= hi else hi
            school = a["school_b"][k] - 9 * k if a["school_b"][k] >= 0 else -1
            res = [s for s in range(9) if s != school]
            g = max(1, min(g, len(res)))
            totals = _apportion(size, rng.uniform(0.85, 1.15, g))
            if totals.min() < min(GRID_MIN, size) or totals.max() > GRID_MAX:
                totals = _apportion(size, np.ones(g))
            lengths = rng.permutation(_apportion(len(res), np.ones(g)))
            run = np.repeat(np.arange(g), lengths)
            gid0 = len(grid_comm)
            for s, r in zip(res, run, strict=True):
                blk_grid[9 * k + s] = gid0 + r
            if school >= 0:  # the school block joins the grid of a serpentine neighbour
                blk_grid[9 * k + school] = blk_grid[9 * k + (school - 1 if school else 1)]
            for r in range(g):
                blocks = 9 * k + np.array([s for s, rr in zip(res, run, strict=True) if rr == r])
                w = housing_w[blocks] * rng.uniform(0.7, 1.3, len(blocks))
                blk_hh[blocks] = _apportion(int(totals[r]), w)
                grid_comm.append(k)
                grid_hh.append(int(totals[r]))
                grid_first.append(int(blocks.min() - 9 * k))
        a["blk_grid"], a["blk_hh"] = blk_grid, blk_hh
        a["grid_comm"] = np.array(grid_comm)
        a["grid_hh"] = np.array(grid_hh)

        # sequence numbers: by centroid row (north first), then column (west first)
        ng = len(grid_comm)
        cnt = np.bincount(blk_grid, minlength=ng)
        row_n = np.bincount(blk_grid, weights=2 - a["blk_lr"], minlength=ng) / cnt
        col = np.bincount(blk_grid, weights=a["blk_lc"], minlength=ng) / cnt
        order = np.lexsort((np.array(grid_first), col, np.floor(row_n + 0.5), a["grid_comm"]))
        seq = np.empty(ng, dtype=np.int64)
        seq[order] = _group_rank(a["grid_comm"][order]) + 1
        a["grid_seq"] = seq
        # the run order (serpentine) of grids in a community, for backups
        a["grid_first"] = np.array(grid_first)

    # ------------------------------------------------------------------ estates
    def estates(self) -> None:
        """Estates inset from road centrelines, their lanes and building regions."""
        rng, a = self.rng, self.a
        q = a["blk_quad"]
        lr, lc = a["blk_lr"], a["blk_lc"]
        len_s = np.linalg.norm(q[:, 1] - q[:, 0], axis=1)
        len_n = np.linalg.norm(q[:, 2] - q[:, 3], axis=1)
        len_w = np.linalg.norm(q[:, 3] - q[:, 0], axis=1)
        len_e = np.linalg.norm(q[:, 2] - q[:, 1], axis=1)
        lu, lv = (len_s + len_n) / 2, (len_w + len_e) / 2

        def setback(on_arterial: np.ndarray) -> np.ndarray:
            return np.where(on_arterial, ARTERIAL_SETBACK_M, BRANCH_SETBACK_M)

        uw = setback(lc == 0) / lu
        ue = setback(lc == 2) / lu
        vs = setback(lr == 0) / lv
        vn = setback(lr == 2) / lv
        a["inset"] = np.stack([uw, ue, vs, vn], axis=1)
        a["estate_ring"] = _rects(q, uw, 1 - ue, vs, 1 - vn)
        width = lu * (1 - uw - ue)  # estate width and depth in metres
        depth = lv * (1 - vs - vn)
        a["est_w"], a["est_d"] = width, depth

        # lanes: a gate on the south road, up to the centre, a spine west–east
        ug = uw + 0.5 * (1 - uw - ue)
        vm = vs + 0.5 * (1 - vs - vn)
        ua = uw + LANE_END_M / lu
        ub = 1 - ue - LANE_END_M / lu
        a["lane_uv"] = np.stack([ug, vm, ua, ub], axis=1)

        # building regions in estate metres (s from west, t from south)
        m, c = ESTATE_MARGIN_M, LANE_CLEAR_M
        zero = np.zeros_like(width)
        reg = np.stack(
            [
                np.stack([zero + m, width - m, depth / 2 + c, depth - m], axis=1),
                np.stack([zero + m, width / 2 - c, zero + m, depth / 2 - c], axis=1),
                np.stack([width / 2 + c, width - m, zero + m, depth / 2 - c], axis=1),
            ],
            axis=1,
        )
        a["region"] = reg  # (blocks, 3, [s0, s1, t0, t1])

        # estate style and names
        n_blk = len(q)
        style = rng.choice(3, n_blk, p=STYLE_P)
        a["style"] = style

    def _uv(self, b: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estate metres (s, t) of blocks ``b`` to block uv coordinates."""
        uw, ue, vs, vn = self.a["inset"][b].T
        u = uw + s / self.a["est_w"][b] * (1 - uw - ue)
        v = vs + t / self.a["est_d"][b] * (1 - vs - vn)
        return u, v

    # ---------------------------------------------------------------- buildings
    def buildings(self) -> None:
        """Residential buildings in slot rows sized to hold each estate's households."""
        rng, a = self.rng, self.a
        prog, reg = a["prog"], a["region"]
        n_blk = len(prog)
        hh = a["blk_hh"]
        occ = rng.uniform(0.75, 0.95, n_blk)
        need = np.ceil(hh / occ).astype(np.int64)

        def slots(layout: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
            sw, sd, gx, gy = layout
            blk, rg = np.nonzero(prog == HOUSING)
            s0, s1, t0, t1 = reg[blk, rg].T
            nc = np.maximum(0, np.floor((s1 - s0 + gx) / (sw + gx))).astype(np.int64)
            nr = np.maximum(0, np.floor((t1 - t0 + gy) / (sd + gy))).astype(np.int64)
            count = nc * nr
            idx = np.repeat(np.arange(len(blk)), count)
            k = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
            col, row = k % nc[idx], k // nc[idx]
            off_s = (s1 - s0 - (nc * sw + (nc - 1) * gx)) / 2
            off_t = (t1 - t0 - (nr * sd + (nr - 1) * gy)) / 2
            sc = s0[idx] + off_s[idx] + col * (sw + gx) + sw / 2
            tc = t0[idx] + off_t[idx] + row * (sd + gy) + sd / 2
            return {"blk": blk[idx], "sc": sc, "tc": tc}

        rows, points = slots(ROWS_LAYOUT), slots(POINTS_LAYOUT)
        nr_, np_ = len(rows["blk"]), len(points["blk"])
        # parameters per slot for each style: slab (old), mid-rise (mid), tower (new)
        slab = {
            "floors": rng.integers(5, 8, nr_),
            "units": rng.integers(2, 4, nr_),
            "per_floor": np.full(nr_, 2),
        }
        midrise = {
            "floors": rng.integers(11, 19, nr_),
            "units": np.full(nr_, 2),
            "per_floor": np.full(nr_, 2),
        }
        tower = {
            "floors": rng.integers(18, 34, np_),
            "units": rng.integers(1, 3, np_),
            "per_floor": rng.integers(2, 5, np_),
        }
        mixed_rows = rng.random(nr_) < 0.08
        mixed_points = rng.random(np_) < 0.05

        def cap(p: dict[str, np.ndarray], mixed: np.ndarray) -> np.ndarray:
            return (p["floors"] - mixed) * p["units"] * p["per_floor"]

        caps = np.stack(
            [
                np.bincount(rows["blk"], cap(slab, mixed_rows), minlength=n_blk),
                np.bincount(rows["blk"], cap(midrise, mixed_rows), minlength=n_blk),
                np.bincount(points["blk"], cap(tower, mixed_points), minlength=n_blk),
            ],
            axis=1,
        )
        style = a["style"].copy()
        for _ in range(2):  # upgrade estates that cannot hold their households
            short = caps[np.arange(n_blk), style] < need
            style[short & (style < NEW)] += 1
        short = caps[np.arange(n_blk), style] < need
        if short.any():  # the densest towers the estate's slots allow
            force = short[points["blk"]]
            tower["floors"][force], tower["units"][force], tower["per_floor"][force] = 33, 2, 4
            mixed_points[force] = False
            caps[:, NEW] = np.bincount(points["blk"], cap(tower, mixed_points), minlength=n_blk)
            if (caps[short, NEW] < need[short]).any():
                raise RuntimeError("an estate is too small for its households")
        a["style"] = style

        # candidate buildings of each estate's style, in random order, until full
        use_rows = style[rows["blk"]] != NEW
        use_points = style[points["blk"]] == NEW
        row_params = {k: np.where(style[rows["blk"]] == OLD, slab[k], midrise[k]) for k in slab}
        kind_rows = np.where(style[rows["blk"]] == OLD, 0, 1)
        cand = {
            "blk": np.r_[rows["blk"][use_rows], points["blk"][use_points]],
            "sc": np.r_[rows["sc"][use_rows], points["sc"][use_points]],
            "tc": np.r_[rows["tc"][use_rows], points["tc"][use_points]],
            "floors": np.r_[row_params["floors"][use_rows], tower["floors"][use_points]],
            "units": np.r_[row_params["units"][use_rows], tower["units"][use_points]],
            "per_floor": np.r_[row_params["per_floor"][use_rows], tower["per_floor"][use_points]],
            "mixed": np.r_[mixed_rows[use_rows], mixed_points[use_points]],
            "kind": np.r_[kind_rows[use_rows], np.full(use_points.sum(), 2)],
        }
        order = np.lexsort((rng.random(len(cand["blk"])), cand["blk"]))
        cand = {k: v[order] for k, v in cand.items()}
        capacity = (cand["floors"] - cand["mixed"]) * cand["units"] * cand["per_floor"]
        cum = np.cumsum(capacity)
        start = np.r_[True, cand["blk"][1:] != cand["blk"][:-1]]
        base = np.maximum.accumulate(np.where(start, cum - capacity, 0))
        before = cum - capacity - base
        used = before < need[cand["blk"]]
        spare = ~used & (rng.random(len(used)) < 0.12)
        res = {k: v[used] for k, v in cand.items()}

        # footprints (metres): slab units × 18 + 6 by 12, mid-rise 40 × 15,
        # towers 25 × 25 (one unit) or 36 × 22 (two units)
        bw = np.select(
            [res["kind"] == 0, res["kind"] == 1, res["units"] == 1],
            [res["units"] * 18.0 + 6, 40.0, 25.0],
            36.0,
        )
        bd = np.select([res["kind"] == 0, res["kind"] == 1, res["units"] == 1], [12.0, 15, 25], 22)
        use = np.where(res["mixed"], "mixed", "residential")

        # spare slots: the odd kindergarten / property office (public) or shop row
        sp = {k: v[spare] for k, v in cand.items()}
        sp_public = rng.random(len(sp["blk"])) < 0.5
        sp_w = np.where(sp_public, 30.0, 24.0)
        sp_d = np.where(sp_public, 14.0, 10.0)

        # buildings of the other programmes (public and commercial)
        blk_o, rg_o = np.nonzero((prog == SERVICE) | (prog == ELDER) | (prog == MARKET))
        p_o = prog[blk_o, rg_o]
        s0, s1, _, t1 = reg[blk_o, rg_o].T
        ow = np.select([p_o == SERVICE, p_o == ELDER], [40.0, 45.0], 40.0)
        od = np.select([p_o == SERVICE, p_o == ELDER], [15.0, 15.0], 20.0)
        osc = (s0 + s1) / 2
        otc = t1 - 2 - od / 2

        blk = np.r_[res["blk"], sp["blk"], blk_o]
        sc = np.r_[res["sc"], sp["sc"], osc]
        tc = np.r_[res["tc"], sp["tc"], otc]
        w = np.r_[bw, sp_w, ow]
        d = np.r_[bd, sp_d, od]
        use = np.r_[
            use,
            np.where(sp_public, "public", "commercial"),
            np.where(p_o == MARKET, "commercial", "public"),
        ]
        floors = np.r_[
            res["floors"],
            np.where(sp_public, rng.integers(2, 4, len(sp_w)), rng.integers(1, 3, len(sp_w))),
            np.where(p_o == ELDER, rng.integers(3, 5, len(p_o)), rng.integers(2, 4, len(p_o))),
        ]
        units = np.r_[res["units"], np.ones(len(sp_w) + len(p_o), dtype=np.int64)]
        per_floor = np.r_[res["per_floor"], np.zeros(len(sp_w) + len(p_o), dtype=np.int64)]
        mixed = np.r_[res["mixed"], np.zeros(len(sp_w) + len(p_o), dtype=bool)]

        # number buildings within each estate from the north-west, and give ids
        order = np.lexsort((sc, -np.round(tc, 3), blk))
        cols = [blk, sc, tc, w, d, use, floors, units, per_floor, mixed]
        blk, sc, tc, w, d, use, floors, units, per_floor, mixed = (x[order] for x in cols)
        u0, v0 = self._uv(blk, sc - w / 2, tc - d / 2)
        u1, v1 = self._uv(blk, sc + w / 2, tc + d / 2)
        a["bld"] = {
            "blk": blk,
            "uv": np.stack([u0, u1, v0, v1], axis=1),
            "use": use,
            "floors": floors.astype(np.int64),
            "units": units.astype(np.int64),
            "per_floor": per_floor.astype(np.int64),
            "mixed": mixed,
            "number": _group_rank(blk) + 1,
        }
        a["bld_ring"] = _rects(a["blk_quad"][blk], u0, u1, v0, v1)

    # --------------------------------------------------------------- households
    def households_(self) -> None:
        """Dwellings (unit, floor, door) of residential buildings, occupied at random."""
        rng, a = self.rng, self.a
        bld = a["bld"]
        dwell = np.isin(bld["use"], ["residential", "mixed"])
        bidx = np.flatnonzero(dwell)
        per_unit = (bld["floors"][bidx] - bld["mixed"][bidx]) * bld["per_floor"][bidx]
        capacity = per_unit * bld["units"][bidx]
        b = np.repeat(bidx, capacity)
        k = np.arange(len(b)) - np.repeat(np.cumsum(capacity) - capacity, capacity)
        pu = np.repeat(per_unit, capacity)
        pf = bld["per_floor"][b]
        unit = k // pu + 1
        floor = (k % pu) // pf + 1 + bld["mixed"][b]
        door = (k % pu) % pf + 1
        blk = bld["blk"][b]
        order = np.lexsort((rng.random(len(b)), blk))
        rank = np.empty(len(b), dtype=np.int64)
        rank[order] = _group_rank(blk[order])
        take = rank < a["blk_hh"][blk]
        if take.sum() != self.households:
            raise RuntimeError("dwellings do not match the household count")
        a["hh_bld"] = b[take]
        a["hh_unit"] = unit[take]
        a["hh_room"] = floor[take] * 100 + door[take]
        a["hh_blk"] = blk[take]

    # ---------------------------------------------------------------- residents
    def residents(self) -> None:
        """Household types, members, ages, sexes and vulnerability flags."""
        rng, a = self.rng, self.a
        nh = self.households
        style = a["style"][a["hh_blk"]]
        cum = np.cumsum(HOUSEHOLD_TYPE_P, axis=1)
        htype = (rng.random(nh)[:, None] > cum[style]).sum(axis=1)
        htype = np.minimum(htype, len(HOUSEHOLD_TYPES) - 1)
        size = np.ones(nh, dtype=np.int64)
        for t, (_, _, sizes, probs) in enumerate(HOUSEHOLD_TYPES):
            m = htype == t
            size[m] = rng.choice(sizes, m.sum(), p=probs)

        # per-household ages of each role, then members pick theirs
        u = rng.random((nh, 8))

        def elder_age(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            """Ages 60+ from five-year bins with probabilities ``p``."""
            k = np.minimum(np.searchsorted(np.cumsum(p), x * p.sum()), len(p) - 1)
            lo, hi = ELDER_BINS[k], ELDER_BINS[k + 1]
            span = np.where(k == len(p) - 1, (hi - lo) * y**2, (hi - lo) * y)  # 85+ thins out
            return lo + span

        def unif(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
            return lo + (hi - lo) * x

        age = np.zeros((nh, 7))
        male_self = u[:, 0] < 0.5
        names = [t[0] for t in HOUSEHOLD_TYPES]
        is_type = {name: htype == i for i, name in enumerate(names)}
        c1 = np.zeros(nh)
        # children first, then parents from the eldest child, grandparents from parents
        m = is_type["single_parent"]
        c1[m] = unif(0, 18, u[m, 1])
        m = is_type["couple_child"]
        c1[m] = np.where(u[m, 2] < 0.7, unif(0, 18, u[m, 1]), unif(18, 28, u[m, 1]))
        m = is_type["couple_children"]
        c1[m] = unif(5, 24, u[m, 1])
        m = is_type["three_generations"]
        c1[m] = unif(0, 16, u[m, 1])
        gap2 = unif(1, 8, u[:, 3])
        c2 = np.where(c1 - gap2 >= 0, c1 - gap2, c1 * u[:, 3])
        gap3 = unif(1, 5, u[:, 4])
        c3 = np.where(c2 - gap3 >= 0, c2 - gap3, c2 * u[:, 4])
        parent = c1 + unif(24, 36, u[:, 5])
        age[:, CHILD1], age[:, CHILD2], age[:, CHILD3] = c1, c2, c3
        with_kids = is_type["single_parent"] | is_type["couple_child"] | is_type["couple_children"]
        with_kids |= is_type["three_generations"]
        age[with_kids, SELF] = parent[with_kids]
        m = is_type["single_young"]
        age[m, SELF] = np.where(u[m, 1] < 0.7, unif(18, 35, u[m, 2]), unif(35, 60, u[m, 2]))
        male_self[m] = u[m, 0] < 0.68
        m = is_type["elder_alone"]
        age[m, SELF] = elder_age(np.array([0.14, 0.2, 0.2, 0.18, 0.15, 0.13]), u[m, 1], u[m, 2])
        male_self[m] = u[m, 0] < 0.38
        m = is_type["couple"]
        age[m, SELF] = np.where(u[m, 1] < 0.45, unif(22, 36, u[m, 2]), unif(46, 60, u[m, 2]))
        m = is_type["elder_couple"]
        age[m, SELF] = elder_age(np.array([0.3, 0.3, 0.2, 0.11, 0.06, 0.03]), u[m, 1], u[m, 2])
        m = is_type["elder_with_child"]
        age[m, ELDER1] = elder_age(np.array([0.03, 0.12, 0.25, 0.25, 0.2, 0.15]), u[m, 1], u[m, 2])
        age[m, SELF] = age[m, ELDER1] - unif(24, 36, u[m, 5])
        m = is_type["couple_elder"]
        age[m, SELF] = unif(28, 50, u[m, 1])
        m = is_type["single_parent"]
        male_self[m] = u[m, 0] < 0.25
        # spouses: husbands about two years older than wives
        dsp = np.clip(rng.normal(2, 2.5, nh), -3, 8)
        age[:, SPOUSE] = np.maximum(age[:, SELF] + np.where(male_self, -dsp, dsp), 20)
        older = np.maximum(age[:, SELF], age[:, SPOUSE])
        ep = older + unif(24, 33, u[:, 6])
        needs_ep = is_type["couple_elder"] | is_type["three_generations"]
        age[needs_ep, ELDER1] = ep[needs_ep]
        male_e1 = u[:, 7] < 0.45
        age[:, ELDER2] = age[:, ELDER1] + np.where(male_e1, -dsp, dsp)
        age = np.clip(age, 0, 100).astype(np.int64)

        # members
        hh = np.repeat(np.arange(nh), size)
        start = np.cumsum(size) - size
        k = np.arange(len(hh)) - start[hh]
        roles = np.full((len(HOUSEHOLD_TYPES), 6), SELF)
        for t, (_, r, _, _) in enumerate(HOUSEHOLD_TYPES):
            roles[t, : len(r)] = r
        role = roles[htype[hh], k]
        r_age = age[hh, role]
        child_male = rng.random(len(hh)) < 0.53
        male = np.select(
            [role == SELF, role == SPOUSE, role == ELDER1, role == ELDER2],
            [male_self[hh], ~male_self[hh], male_e1[hh], ~male_e1[hh]],
            child_male,
        )

        # vulnerability
        n = len(hh)
        x = rng.random((n, 2))
        p_dis = np.select([r_age < 15, r_age < 60, r_age < 75], [0.015, 0.035, 0.14], 0.27)
        p_mob = np.select([r_age < 60, r_age < 75], [0.002, 0.025], 0.26)
        mobility = x[:, 1] < p_mob
        disabled = (x[:, 0] < p_dis) | (mobility & (x[:, 0] < 0.5))
        hh_t = htype
        p_low = LOW_INCOME_HH_P * np.select(
            [hh_t == names.index("elder_alone"), hh_t == names.index("single_parent")],
            [2.2, 3.0],
            1.0,
        )
        low = (rng.random(nh) < p_low)[hh]
        alone = (size[hh] == 1) & (r_age >= 60)

        # birth dates: age in completed years on the reference (end) date
        ref = np.datetime64(self.end.tz_localize(None).date(), "D")
        birth = ref - np.round((r_age + rng.uniform(0.003, 0.997, n)) * 365.2425).astype(
            "timedelta64[D]"
        )
        a["hh_size"], a["hh_type"] = size, htype
        a["res"] = {
            "hh": hh,
            "role": role,
            "age": r_age,
            "male": male,
            "birth": birth,
            "alone": alone,
            "disabled": disabled,
            "mobility": mobility,
            "low": low,
        }

    def identities(self) -> None:
        """Names, ID numbers (with MOD 11-2 check character) and phones of residents."""
        rng, a = self.rng, self.a
        res = a["res"]
        n = len(res["hh"])
        birth = res["birth"]
        year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
        day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
        # sequence numbers: unique within (birth date, sex), odd for men
        key = birth.astype(np.int64) * 2 + res["male"]
        order = np.lexsort((rng.random(n), key))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = _group_rank(key[order])
        if rank.max(initial=0) >= 500:
            raise RuntimeError("too many residents share a birth date for unique ID numbers")
        offset = rng.integers(0, 500, n)[order][_group_rank_start(key[order])]
        off = np.empty(n, dtype=np.int64)
        off[order] = offset
        seq = 2 * ((rank * 173 + off) % 500) + res["male"]
        digits = np.empty((n, 18), dtype=np.uint8)
        digits[:, :6] = np.frombuffer(DISTRICT_CODE.encode(), dtype=np.uint8) - ord("0")
        for i, (value, width) in enumerate([(year, 4), (month, 2), (day, 2), (seq, 3)]):
            pos = [6, 10, 12, 14][i]
            for p in range(width):
                digits[:, pos + p] = (value // 10 ** (width - 1 - p)) % 10
        check = id_check_char(digits[:, :17])
        digits[:, :17] += ord("0")
        digits[:, 17] = check
        res["id_number"] = _ascii(digits)

        # names: children take the father's surname
        nh = self.households
        hh, role = res["hh"], res["role"]
        sw = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
        fam = rng.choice(len(SURNAMES), (nh, 2), p=sw)  # self, spouse
        own = rng.choice(len(SURNAMES), n, p=sw)
        self_male = res["male"][np.cumsum(a["hh_size"]) - a["hh_size"]]
        father = np.where(self_male, fam[:, 0], fam[:, 1])
        surname = np.select(
            [role == SELF, role == SPOUSE, (role >= CHILD1) & (role <= CHILD3)],
            [fam[hh, 0], fam[hh, 1], father[hh]],
            own,
        )
        res["name"] = _person_names(rng, res["male"], res["age"] >= 45, surname)

        # phones: children under 16 are registered with a parent's number
        phone = _phones(rng, n)
        first = np.cumsum(a["hh_size"]) - a["hh_size"]
        kid = (role >= CHILD1) & (role <= CHILD3) & (res["age"] < 16)
        phone[kid] = phone[first[hh[kid]]]
        res["phone"] = _int_str(phone)

    # --------------------------------------------------------------- facilities
    def facilities(self) -> None:
        """Community centres, clinics, parks, elder care, schools and shelters."""
        rng, a = self.rng, self.a
        prog, reg = a["prog"], a["region"]
        n = a["n_comm"]
        comm_res = np.bincount(a["hh_blk"] // 9, weights=a["hh_size"], minlength=n)
        rows: list[dict[str, Any]] = []

        def add(kind: str, b: np.ndarray, s: np.ndarray, t: np.ndarray, **cols: Any) -> None:
            rows.append({"kind": np.full(len(b), kind), "blk": b, "s": s, "t": t} | cols)

        def region(p: int) -> tuple[np.ndarray, ...]:
            b, r = np.nonzero(prog == p)
            return (b, *reg[b, r].T)

        b, s0, s1, t0, t1 = region(SERVICE)
        mid = (s0 + s1) / 2
        k = b // 9
        add("community_centre", b, mid - 10, t0 + 5, capacity=rng.integers(100, 301, len(b)))
        clinic_cap = np.clip(np.round(comm_res[k] / 40), 60, 250)
        add("clinic", b, mid + 10, t0 + 5, capacity=clinic_cap)
        b, s0, s1, t0, t1 = region(ELDER)
        beds = rng.choice([30, 40, 50, 60, 80, 100, 120], len(b))
        add("elder_care", b, (s0 + s1) / 2, t0 + 5, capacity=beds)
        b, s0, s1, t0, t1 = region(PARK)
        park_area = (s1 - s0) * (t1 - t0)
        add("park", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=np.round(park_area * 0.2))
        eff = np.clip(park_area * rng.uniform(0.4, 0.65, len(b)), 1_000, 3_000)
        add(
            "shelter",
            b,
            (s0 + s1) / 2 + 8,
            (t0 + t1) / 2,
            capacity=np.floor(eff),
            shelter_class=np.full(len(b), "emergency"),
            area_m2=np.round(eff, 1),
            zone=b // 9,
        )
        b, s0, s1, t0, t1 = region(SCHOOL)
        pupils = rng.choice([18, 24, 30, 36], len(b)) * 45
        add("school", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=pupils)
        sb = np.flatnonzero(prog[:, 1] == SPORTS)
        s0, s1, t0, t1 = reg[sb, 1].T
        ground = a["est_w"][sb] * a["est_d"][sb] * rng.uniform(0.35, 0.5, len(sb))
        add(
            "shelter",
            sb,
            (s0 + s1) / 2,
            (t0 + t1) / 2,
            capacity=np.floor(ground / 2),
            shelter_class=np.full(len(sb), "fixed"),
            area_m2=np.round(ground, 1),
            zone=-1 - a["comm_zone"][sb // 9],
        )
        fac = {
            key: np.concatenate([r.get(key, np.full(len(r["blk"]), None)) for r in rows])
            for key in ("kind", "blk", "s", "t", "capacity", "shelter_class", "area_m2", "zone")
        }
        order = np.lexsort((np.argsort(np.argsort(fac["kind"])), fac["blk"] // 9))
        fac = {key: v[order] for key, v in fac.items()}
        fac["blk"] = fac["blk"].astype(np.int64)
        fac["s"] = fac["s"].astype(float)
        fac["t"] = fac["t"].astype(float)
        u, v = self._uv(fac["blk"], fac["s"], fac["t"])
        fac["xy"] = _bilinear(a["blk_quad"][fac["blk"]], u, v)
        a["fac"] = fac

    # -------------------------------------------------------------------- roads
    def roads(self) -> None:
        """Arterials on community boundaries, branch roads between estates, estate lanes."""
        rng, a = self.rng, self.a
        nx, ny, fine, exists = a["nx"], a["ny"], a["fine"], a["blk_exists"]
        pad = np.zeros((3 * ny + 2, 3 * nx + 2), dtype=bool)
        pad[1:-1, 1:-1] = exists
        # horizontal edges (J, I): between lattice (J, I) and (J, I + 1)
        hj, hi = np.nonzero(pad[1:, 1:-1] | pad[:-1, 1:-1])
        # vertical edges (J, I): between lattice (J, I) and (J + 1, I)
        vj, vi = np.nonzero(pad[1:-1, 1:] | pad[1:-1, :-1])
        used = np.zeros(fine.shape[:2], dtype=bool)
        used[hj, hi] = used[hj, hi + 1] = used[vj, vi] = used[vj + 1, vi] = True
        lattice_id = np.full(used.shape, -1, dtype=np.int64)
        lattice_id[used] = np.arange(used.sum())
        node_xy = [fine[used]]
        nid = int(used.sum())

        # gates on the south road of every block, lane nodes inside
        nb = len(a["blk_quad"])
        q = a["blk_quad"]
        ug, vm, ua, ub = a["lane_uv"].T
        gate = _bilinear(q, ug, np.zeros(nb))
        centre = _bilinear(q, ug, vm)
        west = _bilinear(q, ua, vm)
        east = _bilinear(q, ub, vm)
        gate_id = nid + np.arange(nb)
        centre_id, west_id, east_id = gate_id + nb, gate_id + 2 * nb, gate_id + 3 * nb
        node_xy += [gate, centre, west, east]
        nodes = np.concatenate(node_xy)

        # which horizontal edge carries a gate: the south edge of block (bj, bi)
        gate_at = np.full((3 * ny + 1, 3 * nx), -1, dtype=np.int64)
        gate_at[a["blk_j"], a["blk_i"]] = gate_id
        hg = gate_at[hj, hi]

        # names: arterials per lattice line, branch roads per line and community
        n_ew, n_ns = ny + 1, nx + 1
        taken = set(EW_ARTERIALS + NS_ARTERIALS + BRANCH_REAL)
        gen = [x for x in _name_pool(rng, ROAD_A, ROAD_B, ["路", "大道"]) if x not in taken]
        ew, ns = list(EW_ARTERIALS[:n_ew]), list(NS_ARTERIALS[:n_ns])
        k_ew, k_ns = n_ew - len(ew), n_ns - len(ns)
        extra = _pick_names(gen, k_ew + k_ns, number=False)
        ew += extra[:k_ew]
        ns += extra[k_ew:]
        taken |= set(ew) | set(ns)
        br_pool = list(BRANCH_REAL) + [
            x for x in _name_pool(rng, ROAD_A, ROAD_B, ["路", "街", "巷"]) if x not in taken
        ]
        # a branch road runs along a lattice line for up to three communities:
        # keys (line J, community column // 3) horizontally, (line I, row // 3) vertically
        sx, sy = (nx + 2) // 3, (ny + 2) // 3
        h_key = hj * sx + np.minimum(hi // 9, sx - 1)
        v_key = (3 * ny + 1) * sx + vi * sy + np.minimum(vj // 9, sy - 1)
        n_keys = (3 * ny + 1) * sx + (3 * nx + 1) * sy
        names_table = _strings([*_pick_names(br_pool, n_keys, number=False), *ew, *ns])
        flip_key = rng.random(n_keys) < 0.5
        h_art, v_art = hj % 3 == 0, vi % 3 == 0
        h_name = np.where(h_art, n_keys + hj // 3, h_key)
        v_name = np.where(v_art, n_keys + n_ew + vi // 3, v_key)
        a["road_names"] = names_table

        # edges: lattice edges (horizontal ones split at gates), then the lanes
        h_src, h_dst = lattice_id[hj, hi], lattice_id[hj, hi + 1]
        split = hg >= 0
        src = np.concatenate(
            [
                h_src[~split],
                h_src[split],
                hg[split],
                lattice_id[vj, vi],
                gate_id,
                centre_id,
                centre_id,
            ]
        )
        dst = np.concatenate(
            [
                h_dst[~split],
                hg[split],
                h_dst[split],
                lattice_id[vj + 1, vi],
                centre_id,
                west_id,
                east_id,
            ]
        )
        lane = np.r_[np.zeros(len(hj) + split.sum() + len(vj), dtype=bool), np.ones(3 * nb, bool)]
        art = np.r_[h_art[~split], h_art[split], h_art[split], v_art, np.zeros(3 * nb, bool)]
        name = np.r_[h_name[~split], h_name[split], h_name[split], v_name, np.full(3 * nb, -1)]
        key = np.r_[h_key[~split], h_key[split], h_key[split], v_key, np.full(3 * nb, -1)]
        road_class = np.where(lane, "lane", np.where(art, "arterial", "branch"))
        branch_keys = np.unique(key[road_class == "branch"])
        oneway_key = np.zeros(n_keys, dtype=bool)  # ~8 % of branch roads, at least one
        if len(branch_keys):
            k = max(1, round(0.08 * len(branch_keys)))
            oneway_key[rng.choice(branch_keys, k, replace=False)] = True
        oneway = (road_class == "branch") & oneway_key[np.maximum(key, 0)]
        flip = oneway & flip_key[np.maximum(key, 0)]
        src, dst = np.where(flip, dst, src), np.where(flip, src, dst)
        a["road"] = {
            "nodes": nodes,
            "src": src,
            "dst": dst,
            "class": road_class,
            "name_idx": name,
            "oneway": oneway,
        }
        # the name of the road on each side of each block, for incident descriptions
        hname = np.zeros((3 * ny + 1, 3 * nx), dtype=np.int64)
        hname[hj, hi] = h_name
        vname = np.zeros((3 * ny, 3 * nx + 1), dtype=np.int64)
        vname[vj, vi] = v_name
        bj, bi = a["blk_j"], a["blk_i"]
        a["blk_side_name"] = np.stack(
            [hname[bj, bi], hname[bj + 1, bi], vname[bj, bi], vname[bj, bi + 1]], axis=1
        )

    # ----------------------------------------------------------- people at work
    def people(self) -> None:
        """Users, grid workers (one per grid) and their primary / backup assignments."""
        rng, a = self.rng, self.a
        ng = len(a["grid_comm"])
        nw = ng + (1 if ng == 1 else 0)  # a standby worker when there is a single grid
        male = rng.random(nw) < 0.45
        a["worker_name"] = _person_names(rng, male, rng.random(nw) < 0.3)
        a["worker_phone"] = _int_str(_phones(rng, nw))
        a["worker_on_duty"] = rng.random(nw) < 0.95
        # backups: the next grid of the same community along the serpentine (or the
        # previous one); a community's only grid takes the first grid of the next
        # community, and a district's only grid the standby worker (index ng)
        order = np.lexsort((a["grid_first"], a["grid_comm"]))
        comm_sorted = a["grid_comm"][order]
        rank = _group_rank(comm_sorted)
        count = np.bincount(comm_sorted)[comm_sorted]
        pos = np.arange(ng)
        nxt = np.where(rank + 1 < count, pos + 1, pos - 1)
        backup = np.empty(ng, dtype=np.int64)
        backup[order] = np.where(count > 1, order[np.clip(nxt, 0, ng - 1)], -1)
        first_of = dict(
            zip(comm_sorted[rank == 0].tolist(), order[rank == 0].tolist(), strict=True)
        )
        for g in np.flatnonzero(backup < 0):
            nxt_comm = (int(a["grid_comm"][g]) + 1) % a["n_comm"]
            backup[g] = first_of[nxt_comm] if a["n_comm"] > 1 else ng
        a["grid_backup"] = backup
        a["n_res_users"] = int(np.clip(self.households // 500, 24, 5000))

    # ---------------------------------------------------------------- incidents
    def incidents(self) -> None:
        """Incidents with times, categories, places, hotspots and full histories."""
        rng, a = self.rng, self.a
        n = round(self.households * self.incidents_per_household)
        end_s = int(self.end.timestamp())
        start = self.end - pd.DateOffset(months=self.months)
        day0 = start.normalize()
        n_days = math.ceil((self.end - day0) / pd.Timedelta(days=1))
        days = pd.date_range(day0, periods=n_days, freq="D")
        dow = days.day_of_week.to_numpy()
        holiday = np.isin(days.strftime("%m-%d"), HOLIDAYS)
        weekend = (dow >= 5) | holiday
        day0_s = int(day0.timestamp())
        start_s = int(start.timestamp())

        source = rng.choice(3, n, p=SOURCE_P)
        t = np.zeros(n, dtype=np.int64)
        for si, sname in enumerate(SOURCES):
            idx = np.flatnonzero(source == si)
            got = np.zeros(0, dtype=np.int64)
            dw = np.array(DAY_W[sname])[np.where(holiday, 6, dow)]
            while len(got) < len(idx):
                m = 2 * (len(idx) - len(got)) + 16
                d = rng.choice(n_days, m, p=dw / dw.sum())
                hour = np.empty(m, dtype=np.int64)
                we = weekend[d]
                for flag, label in ((False, "weekday"), (True, "weekend")):
                    hw = np.array(HOUR_W[f"{sname}_{label}"])
                    hour[we == flag] = rng.choice(24, (we == flag).sum(), p=hw / hw.sum())
                ts = day0_s + d * DAY + hour * HOUR + rng.integers(0, HOUR, m)
                got = np.r_[got, ts[(ts >= start_s) & (ts < end_s)]]
            t[idx] = got[: len(idx)]

        # categories by source, with a quarter of incidents at hotspots
        codes = [c[0] for c in CATEGORY_MIX]
        place_bld = np.array([c[1] == "building" for c in CATEGORY_MIX])
        mix = np.array([c[2:] for c in CATEGORY_MIX])
        cat = np.empty(n, dtype=np.int64)
        for si in range(3):
            idx = np.flatnonzero(source == si)
            cat[idx] = rng.choice(len(codes), len(idx), p=mix[:, si] / mix[:, si].sum())

        nb = len(a["blk_quad"])
        prog, style = a["prog"], a["style"]
        spots: list[tuple[str, int, float, float]] = []  # kind, block, u, v
        k_spots = max(3, round(a["n_comm"] / 2))
        ug, vm = a["lane_uv"][:, 0], a["lane_uv"][:, 1]
        for b in rng.permutation(np.flatnonzero((prog == MARKET).any(1)))[: max(1, k_spots // 3)]:
            u, v = self._uv(np.array([b]), a["region"][b, 1, :2].mean(keepdims=True), np.zeros(1))
            spots.append(("market", int(b), float(u[0]), float(v[0]) * 0.5))
        old = np.flatnonzero((style == OLD) & a["is_estate"] & (a["blk_hh"] > 0))
        for b in rng.permutation(old)[: max(1, k_spots // 3)]:
            spots.append(("old_estate", int(b), float(ug[b]), float(vm[b])))
        for b in rng.permutation(np.flatnonzero(a["school_b"] >= 0))[: max(1, k_spots // 6)]:
            sb = int(a["school_b"][b])
            spots.append(("school_gate", sb, float(ug[sb]), float(a["inset"][sb, 2]) * 0.5))
        for b in rng.choice(nb, max(1, k_spots - len(spots)), replace=False):
            spots.append(("construction", int(b), float(rng.uniform(0.2, 0.8)), 0.5))
        spot_w = rng.lognormal(0, 0.5, len(spots))
        hot = rng.random(n) < HOTSPOT_SHARE
        spot = np.where(hot, rng.choice(len(spots), n, p=spot_w / spot_w.sum()), -1)
        for si, (kind, *_rest) in enumerate(spots):
            idx = np.flatnonzero(spot == si)
            mixk = HOTSPOT_MIX[kind]
            keys = [codes.index(c) for c in mixk]
            p = np.array(list(mixk.values()))
            cat[idx] = np.array(keys)[rng.choice(len(keys), len(idx), p=p / p.sum())]

        # places: buildings (via a household), road verges, or around the hotspot
        blk = np.empty(n, dtype=np.int64)
        u = np.empty(n)
        v = np.empty(n)
        bld = a["bld"]
        on_bld = place_bld[cat] & ~hot
        idx = np.flatnonzero(on_bld)
        hh_pick = rng.integers(0, self.households, len(idx))
        lift = codes.index("30402")
        care = codes.index("30301")
        tall = np.flatnonzero(bld["floors"][a["hh_bld"]] >= 8)
        lonely = np.unique(a["res"]["hh"][a["res"]["alone"]])
        for code_i, pool in ((lift, tall), (care, lonely)):
            m = cat[idx] == code_i
            if len(pool) and m.any():
                hh_pick[m] = pool[rng.integers(0, len(pool), m.sum())]
        bi = a["hh_bld"][hh_pick]
        fu, fv = rng.uniform(0.1, 0.9, (2, len(idx)))
        u0, u1, v0, v1 = bld["uv"][bi].T
        blk[idx], u[idx], v[idx] = bld["blk"][bi], u0 + fu * (u1 - u0), v0 + fv * (v1 - v0)
        inc_bld = np.full(n, -1)
        inc_bld[idx] = bi
        # road verge: a side of a block, inside the setback from the road centreline
        idx = np.flatnonzero(~on_bld & ~hot)
        bw = 1.0 + a["blk_hh"] / 100.0
        rb = rng.choice(nb, len(idx), p=bw / bw.sum())
        side = rng.integers(0, 4, len(idx))
        along = rng.uniform(0.05, 0.95, len(idx))
        depth = rng.uniform(0.05, 0.9, len(idx)) * a["inset"][rb, np.array([2, 3, 0, 1])[side]]
        uu = np.select([side == 2, side == 3], [depth, 1 - depth], along)
        vv = np.select([side == 0, side == 1], [depth, 1 - depth], along)
        blk[idx], u[idx], v[idx] = rb, uu, vv
        side_all = np.full(n, -1)
        side_all[idx] = side
        # hotspots: scattered around their centre within their block
        idx = np.flatnonzero(hot)
        sp = spot[idx]
        s_blk = np.array([s[1] for s in spots])[sp]
        su = np.array([s[2] for s in spots])[sp]
        sv = np.array([s[3] for s in spots])[sp]
        sigma = 30.0 / (COMMUNITY_SIDE_M / 3)
        blk[idx] = s_blk
        u[idx] = np.clip(su + rng.normal(0, sigma, len(idx)), 0.01, 0.99)
        v[idx] = np.clip(sv + rng.normal(0, sigma, len(idx)), 0.01, 0.99)
        xy = _bilinear(a["blk_quad"][blk], u, v)

        # order by time; ids follow
        order = np.argsort(t, kind="stable")
        t, source, cat, blk, xy = t[order], source[order], cat[order], blk[order], xy[order]
        inc_bld, side_all, spot = inc_bld[order], side_all[order], spot[order]
        limit_h = {c.code: c.time_limit_hours for c in DEFAULT_CATEGORIES}
        limit = np.array([limit_h[c] for c in codes])[cat] * HOUR
        grid = a["blk_grid"][blk]
        a["inc"] = {
            "t": t,
            "source": source,
            "cat": cat,
            "codes": codes,
            "blk": blk,
            "xy": xy,
            "bld": inc_bld,
            "side": side_all,
            "spot": spot,
            "spot_kind": [s[0] for s in spots],
            "grid": grid,
            "limit": limit,
        }
        self._histories(end_s)

    def _histories(self, end_s: int) -> None:
        """Event times along the incident path, cut at ``end``, and the final states."""
        rng, inc = self.rng, self.a["inc"]
        n = len(inc["t"])
        src, limit = inc["source"], inc["limit"]
        t0 = inc["t"].astype(float)
        n_steps = len(PATH)
        times = np.full((n, n_steps), np.nan)
        times[:, 0] = t0

        def logn(median: Any, sigma: float) -> np.ndarray:
            return np.asarray(median) * np.exp(rng.normal(0, sigma, n))

        # registration: patrol minutes; app / hotline next working hours when off hours
        local_h = ((inc["t"] + 8 * HOUR) // HOUR) % 24
        reg = np.where(src == 0, rng.uniform(2, 30, n) * MINUTE, logn(40 * MINUTE, 0.6))
        off = (src > 0) & ((local_h < 8) | (local_h >= 20))
        day_start = (inc["t"] + 8 * HOUR) // DAY * DAY - 8 * HOUR
        next8 = day_start + 8 * HOUR + np.where(local_h >= 20, DAY, 0)
        reg = np.where(off, next8 - t0 + rng.uniform(0, 90, n) * MINUTE, reg)
        times[:, 1] = t0 + reg
        rejected = rng.random(n) < np.array([0.01, 0.06, 0.04])[src]
        times[:, 2] = times[:, 1] + rng.uniform(5, 60, n) * MINUTE
        times[:, 3] = times[:, 2] + np.minimum(logn(30 * MINUTE, 0.7), 0.3 * limit)
        work = logn(0.35 * limit, 0.6)
        stuck = rng.random(n) < 0.03  # hard cases: several times the time limit
        work = np.where(stuck, limit * rng.uniform(2, 12, n), work)
        resolved1 = times[:, 3] + work
        deadline = times[:, 2] + limit
        returned = rng.random(n) < 0.05
        escalated = resolved1 > deadline
        esc_at = deadline + np.minimum(rng.uniform(1, 30, n) * MINUTE, (resolved1 - deadline) / 2)
        times[:, 4] = np.where(escalated, esc_at, np.nan)
        times[:, 5] = resolved1
        times[:, 6] = resolved1 + logn(2 * HOUR, 0.8)
        times[:, 7] = times[:, 6] + rng.uniform(10, 120, n) * MINUTE
        times[:, 8] = times[:, 7] + logn(0.2 * limit, 0.6)
        last_resolved = np.where(returned, times[:, 8], times[:, 5])
        times[:, 6:9] = np.where(returned[:, None], times[:, 6:9], np.nan)
        times[:, 9] = last_resolved + np.minimum(logn(2 * HOUR, 0.8), 48 * HOUR)
        times[:, 10] = times[:, 9] + rng.uniform(5, 240, n) * MINUTE
        rated = (src > 0) & (rng.random(n) < 0.75)
        times[:, 11] = np.where(rated, times[:, 10] + logn(10 * HOUR, 0.8), np.nan)
        # rejected incidents stop at registration, which becomes the rejection
        times[rejected, 2:] = np.nan
        times = np.round(times)
        running = times[:, 0].copy()
        for k in range(1, n_steps):  # strictly increasing whole seconds
            col = times[:, k]
            ok = ~np.isnan(col)
            times[:, k] = np.where(ok, np.maximum(col, running + 1), np.nan)
            running = np.where(ok, times[:, k], running)
        active = ~np.isnan(times) & (times <= end_s)
        last = n_steps - 1 - np.argmax(active[:, ::-1], axis=1)
        path = np.array(PATH)
        state = path[last]
        state = np.where(rejected & (last == 1), "rejected", state)
        dispatched = active[:, 2]
        bad = escalated | returned
        rating = np.where(
            active[:, 11],
            np.where(
                bad,
                rng.choice(5, n, p=RATING_P_BAD) + 1,
                rng.choice(5, n, p=RATING_P) + 1,
            ),
            0,
        )
        inc.update(
            times=times,
            active=active,
            state=state,
            rejected=rejected,
            deadline=np.where(dispatched, times[:, 2] + limit, np.nan),
            closed=np.where(active[:, 10], times[:, 10], np.nan),
            rating=rating,
            dispatched=dispatched,
        )

    # ------------------------------------------------------------------- frames
    def frames(self) -> None:
        """Assemble the layers as (Geo)DataFrames in EPSG:4326."""
        a, rng = self.a, self.rng
        out = self.layers
        n = a["n_comm"]
        fine_ll = _lonlat(a["fine"])

        # ---- admin areas
        pool_a, pool_b = list(PLACE_A), list(dict.fromkeys(PLACE_B))
        places = _pick_names(_name_pool(rng, pool_a, pool_b), n + a["n_streets"])
        comm_place = places[:n]
        real = REAL_STREETS[: a["n_streets"]]
        used_codes = {c for c, _ in REAL_STREETS}
        spare_codes = [f"{i:03d}" for i in range(1, 1000) if f"{i:03d}" not in used_codes]
        real_names = {nm[:2] for _, nm in REAL_STREETS}
        gen = [p for p in places[n:] if p not in real_names]
        streets = list(real) + [
            (spare_codes[i], f"{gen[i % len(gen)]}街道") for i in range(a["n_streets"] - len(real))
        ]
        street_code = [DISTRICT_CODE + c for c, _ in streets]
        seq_in_street = _group_rank(a["comm_street"]) + 1
        comm_code = [
            f"{street_code[s]}{q:03d}" for s, q in zip(a["comm_street"], seq_in_street, strict=True)
        ]
        comm_name = [f"{p}社区" for p in comm_place]

        # community rings: the 12 lattice points around the 3 × 3 blocks
        dj = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 2, 1, 0])
        di = np.array([0, 1, 2, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0])
        rj = 3 * a["comm_cj"][:, None] + dj
        ri = 3 * a["comm_ci"][:, None] + di
        comm_poly = shapely.polygons(fine_ll[rj, ri])
        street_poly = np.array(
            [
                shapely.coverage_union_all(comm_poly[a["comm_street"] == s])
                for s in range(len(streets))
            ],
            dtype=object,
        )
        district_poly = shapely.coverage_union_all(comm_poly)

        # estates
        est_b = np.flatnonzero(a["is_estate"])
        est_seq = np.empty(len(a["prog"]), dtype=np.int64)
        est_seq[est_b] = _group_rank(est_b // 9) + 1
        style = a["style"]
        new_pool = _name_pool(rng, ESTATE_BRANDS, ESTATE_NEW_NAMES, ESTATE_PHASES)
        mid_pool = _name_pool(rng, pool_a, pool_b, ESTATE_MID_SUFFIX)
        old_pool = _name_pool(rng, pool_a, pool_b, ESTATE_OLD_SUFFIX)
        est_name = np.empty(len(a["prog"]), dtype=object)
        for st, pool in ((OLD, old_pool), (MID, mid_pool), (NEW, new_pool)):
            m = a["is_estate"] & (style == st)
            est_name[m] = _pick_names(pool, int(m.sum()))
        school_name = {}
        for b in np.flatnonzero(~a["is_estate"]):
            p = comm_place[b // 9]
            school_name[b] = rng.choice([f"杭州市{p}小学", f"{p}实验学校", f"{p}第二小学"])
            est_name[b] = school_name[b]
        est_code = np.array(
            [
                f"{comm_code[b // 9]}E{est_seq[b]:02d}" if a["is_estate"][b] else ""
                for b in range(len(est_seq))
            ],
            dtype=object,
        )
        est_ring = _lonlat(a["estate_ring"][est_b])
        est_poly = shapely.polygons(est_ring)

        admin = pd.DataFrame(
            {
                "code": _str([DISTRICT_CODE, *street_code, *comm_code, *est_code[est_b]]),
                "name": _str(
                    [DISTRICT_NAME, *(nm for _, nm in streets), *comm_name, *est_name[est_b]]
                ),
                "level": _str(
                    ["district"]
                    + ["street"] * len(streets)
                    + ["community"] * n
                    + ["estate"] * len(est_b)
                ),
                "parent_code": _str(
                    [None]
                    + [DISTRICT_CODE] * len(streets)
                    + [street_code[s] for s in a["comm_street"]]
                    + [comm_code[b // 9] for b in est_b]
                ),
            }
        )
        admin_geom = _multi(
            np.concatenate([[district_poly], street_poly, comm_poly, est_poly]).astype(object)
        )
        out["admin_area"] = gpd.GeoDataFrame(admin, geometry=admin_geom, crs=WGS84)

        # ---- grids
        ng = len(a["grid_comm"])
        blk_poly = shapely.polygons(
            fine_ll[
                np.stack([a["blk_j"], a["blk_j"], a["blk_j"] + 1, a["blk_j"] + 1], 1),
                np.stack([a["blk_i"], a["blk_i"] + 1, a["blk_i"] + 1, a["blk_i"]], 1),
            ]
        )
        order = np.argsort(a["blk_grid"], kind="stable")
        bounds = np.searchsorted(a["blk_grid"][order], np.arange(ng + 1))
        grid_poly = np.array(
            [
                shapely.coverage_union_all(blk_poly[order[bounds[g] : bounds[g + 1]]])
                for g in range(ng)
            ],
            dtype=object,
        )
        grid_code = np.array(
            [f"{comm_code[c]}{s:03d}" for c, s in zip(a["grid_comm"], a["grid_seq"], strict=True)],
            dtype=object,
        )
        grid_order = np.argsort(grid_code, kind="stable")
        a["grid_code"] = grid_code
        grid_df = pd.DataFrame(
            {
                "code": _str(grid_code[grid_order]),
                "name": _str(
                    [f"{comm_name[a['grid_comm'][g]]}第{a['grid_seq'][g]}网格" for g in grid_order]
                ),
                "community_code": _str([comm_code[a["grid_comm"][g]] for g in grid_order]),
                "kind": _str(["base"] * ng),
            }
        )
        out["grid"] = gpd.GeoDataFrame(grid_df, geometry=_multi(grid_poly[grid_order]), crs=WGS84)

        # ---- buildings
        bld = a["bld"]
        nbld = len(bld["blk"])
        b_est = _take(list(est_name), bld["blk"])
        bld_df = pd.DataFrame(
            {
                "id": np.arange(1, nbld + 1, dtype=np.int64),
                "name": _str(_join(b_est, _int_str(bld["number"]), "幢")),
                "estate_code": _str(_take(list(est_code), bld["blk"])),
                "use": _str(bld["use"]),
                "floors": bld["floors"],
                "units": bld["units"],
            }
        )
        out["building"] = gpd.GeoDataFrame(
            bld_df, geometry=shapely.polygons(_lonlat(a["bld_ring"])), crs=WGS84
        )

        # ---- households
        nh = self.households
        hh_order = np.lexsort((a["hh_room"], a["hh_unit"], a["hh_bld"]))
        if not np.array_equal(hh_order, np.arange(nh)):
            raise RuntimeError("households are expected in building order")
        out["household"] = pd.DataFrame(
            {
                "id": np.arange(1, nh + 1, dtype=np.int64),
                "building_id": a["hh_bld"].astype(np.int64) + 1,
                "unit": a["hh_unit"].astype(np.int64),
                "room": _str(_int_str(a["hh_room"])),
                "size": a["hh_size"].astype(np.int64),
            }
        )

        # ---- residents
        res = a["res"]
        nr = len(res["hh"])
        out["resident"] = pd.DataFrame(
            {
                "id": np.arange(1, nr + 1, dtype=np.int64),
                "household_id": res["hh"].astype(np.int64) + 1,
                "birth_year": res["birth"].astype("datetime64[Y]").astype(np.int64) + 1970,
                "sex": _str(pc.if_else(pa.array(res["male"]), "M", "F")),
                "living_alone_elderly": res["alone"],
                "disabled": res["disabled"],
                "mobility_impaired": res["mobility"],
                "low_income": res["low"],
                "name": _str(res["name"]),
                "id_number": _str(res["id_number"]),
                "phone": _str(res["phone"]),
            }
        )

        # ---- facilities and shelters
        fac = a["fac"]
        nf = len(fac["blk"])
        fcomm = fac["blk"] // 9
        kinds = fac["kind"]
        fname = []
        for i in range(nf):
            place = comm_place[fcomm[i]]
            kind = kinds[i]
            if kind == "community_centre":
                fname.append(f"{comm_name[fcomm[i]]}党群服务中心")
            elif kind == "clinic":
                fname.append(f"{comm_name[fcomm[i]]}卫生服务站")
            elif kind == "elder_care":
                fname.append(f"{comm_name[fcomm[i]]}居家养老服务照料中心")
            elif kind == "park":
                fname.append(f"{place}公园")
            elif kind == "school":
                fname.append(school_name[fac["blk"][i]])
            elif fac["shelter_class"][i] == "emergency":
                fname.append(f"{place}公园紧急避难场所")
            else:
                fname.append(f"{school_name[fac['blk'][i]]}固定避难场所")
        fac_df = pd.DataFrame(
            {
                "id": np.arange(1, nf + 1, dtype=np.int64),
                "kind": _str(kinds),
                "name": _str(fname),
                "capacity": fac["capacity"].astype(np.int64),
            }
        )
        fac_xy = _lonlat(fac["xy"])
        out["facility"] = gpd.GeoDataFrame(fac_df, geometry=shapely.points(fac_xy), crs=WGS84)
        sh = np.flatnonzero(kinds == "shelter")
        zone_poly = np.empty(len(sh), dtype=object)
        zones = fac["zone"][sh].astype(np.int64)
        for i, z in enumerate(zones):
            if z >= 0:
                zone_poly[i] = comm_poly[z]
            else:
                zone_poly[i] = shapely.coverage_union_all(comm_poly[a["comm_zone"] == -1 - z])
        out["shelter"] = gpd.GeoDataFrame(
            {
                "facility_id": (sh + 1).astype(np.int64),
                "shelter_class": _str(fac["shelter_class"][sh]),
                "area_m2": fac["area_m2"][sh].astype(float),
                "occupancy": np.zeros(len(sh), dtype=np.int64),
            },
            geometry=_multi(zone_poly),
            crs=WGS84,
        )

        # ---- roads
        road = a["road"]
        node_ll = _lonlat(road["nodes"])
        src, dst = road["src"], road["dst"]
        out["road_node"] = gpd.GeoDataFrame(
            {"id": np.arange(1, len(node_ll) + 1, dtype=np.int64)},
            geometry=shapely.points(node_ll),
            crs=WGS84,
        )
        seg = np.stack([node_ll[src], node_ll[dst]], axis=1)
        _, _, length = Geod(ellps="WGS84").inv(
            seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1]
        )
        cls = road["class"]
        named = road["name_idx"] >= 0
        names = pc.if_else(
            pa.array(named),
            _take(a["road_names"], np.maximum(road["name_idx"], 0)),
            pa.scalar(None, pa.string()),
        )
        out["road_edge"] = gpd.GeoDataFrame(
            {
                "id": np.arange(1, len(src) + 1, dtype=np.int64),
                "source": src.astype(np.int64) + 1,
                "target": dst.astype(np.int64) + 1,
                "name": _str(names),
                "road_class": _str(cls),
                "length_m": np.asarray(length, dtype=float),
                "walkable": np.ones(len(src), dtype=bool),
                "drivable": np.ones(len(src), dtype=bool),
                "oneway": road["oneway"],
                "walk_speed_mps": np.full(len(src), 1.2),
                "drive_speed_kmh": np.select(
                    [cls == "arterial", cls == "branch"], [50.0, 30.0], 15.0
                ),
            },
            geometry=shapely.linestrings(seg),
            crs=WGS84,
        )

        # ---- users, workers, assignments
        nw = len(a["worker_on_duty"])
        worker_user = [f"gw{c}" for c in grid_code] + (["gw_standby01"] if nw > ng else [])
        worker_name = a["worker_name"].to_pylist()
        staff_n = rng.integers(1, 3, n)
        staff_user, staff_area = [], []
        for c in range(n):
            for j in range(staff_n[c]):
                staff_user.append(f"cs{comm_code[c]}{'ab'[j]}")
                staff_area.append(comm_code[c])
        ns_ = len(street_code)
        nru = a["n_res_users"]
        res_user = [f"resident{i:05d}" for i in range(1, nru + 1)]
        other_names = _person_names(
            rng,
            rng.random(1 + ns_ + len(staff_user) + nru) < 0.5,
            np.zeros(1 + ns_ + len(staff_user) + nru, bool),
        ).to_pylist()
        out["app_user"] = pd.DataFrame(
            {
                "username": _str(
                    [
                        "admin",
                        *(f"ss{c}" for c in street_code),
                        *staff_user,
                        *worker_user,
                        *res_user,
                    ]
                ),
                "display_name": _str(
                    [
                        "系统管理员",
                        *other_names[1 : 1 + ns_ + len(staff_user)],
                        *worker_name,
                        *other_names[1 + ns_ + len(staff_user) :],
                    ]
                ),
                "role": _str(
                    ["admin"]
                    + ["street_staff"] * ns_
                    + ["community_staff"] * len(staff_user)
                    + ["grid_worker"] * nw
                    + ["resident"] * nru
                ),
                "area_code": _str([None, *street_code, *staff_area] + [None] * (nw + nru)),
            }
        )
        # workers in grid-code order
        worker_of_grid = np.empty(ng, dtype=np.int64)
        worker_of_grid[grid_order] = np.arange(ng)
        w_order = np.r_[grid_order, np.arange(ng, nw)]
        out["grid_worker"] = pd.DataFrame(
            {
                "id": np.arange(1, nw + 1, dtype=np.int64),
                "username": _str([worker_user[i] for i in w_order]),
                "name": _str([worker_name[i] for i in w_order]),
                "phone": _str(a["worker_phone"].take(pa.array(w_order))),
                "max_open_tasks": np.full(nw, 20, dtype=np.int64),
                "on_duty": a["worker_on_duty"][w_order],
            }
        )[["id", "username", "name", "phone", "on_duty", "max_open_tasks"]]
        backup = a["grid_backup"]
        backup_worker = np.where(backup >= ng, ng, worker_of_grid[np.minimum(backup, ng - 1)])
        out["grid_assignment"] = pd.DataFrame(
            {
                "worker_id": np.c_[worker_of_grid, backup_worker][grid_order].ravel() + 1,
                "grid_code": _str(np.repeat(grid_code[grid_order], 2)),
                "role": _str(np.tile(["primary", "backup"], ng)),
            }
        )

        # ---- incidents
        self._incident_frames(
            worker_of_grid, worker_user, staff_user, res_user, comm_code, est_name, school_name
        )

    def _incident_frames(
        self,
        worker_of_grid: np.ndarray,
        worker_user: list[str],
        staff_user: list[str],
        res_user: list[str],
        comm_code: list[str],
        est_name: np.ndarray,
        school_name: dict[int, str],
    ) -> None:
        """The incident and incident_event layers."""
        rng, a, inc = self.rng, self.a, self.a["inc"]
        n = len(inc["t"])
        codes = inc["codes"]
        # reporters and assignees
        primary = worker_of_grid[inc["grid"]]  # worker row (grid-code order) of the grid
        assignee = pd.array(np.where(inc["dispatched"], primary + 1, 0), dtype="Int64")
        assignee[~inc["dispatched"]] = pd.NA
        worker_names = np.array(worker_user, dtype=object)
        grid_worker_user = worker_names[inc["grid"]]
        res_pick = np.array(res_user, dtype=object)[rng.integers(0, len(res_user), n)]
        reporter = np.where(
            inc["source"] == 0, grid_worker_user, np.where(inc["source"] == 1, res_pick, None)
        )
        comm = inc["blk"] // 9
        staff_of = {}
        for u in staff_user:
            staff_of.setdefault(u[2:14], u)
        staff = np.array([staff_of[comm_code[c]] for c in range(len(comm_code))], dtype=object)[
            comm
        ]

        # descriptions: a place, then a per-category phrase
        place = np.array(list(est_name), dtype=object)
        suffixes = [DESCRIPTIONS[c] for c in codes]
        tmpl = np.array([len(s) for s in suffixes])[inc["cat"]]
        pick = (rng.random(n) * tmpl).astype(np.int64)
        flat = [s for ss in suffixes for s in ss]
        offs = np.cumsum([0] + [len(s) for s in suffixes])[:-1]
        phrase = _take(flat, offs[inc["cat"]] + pick)
        bld = a["bld"]
        bld_names = _join(_take(list(place), bld["blk"]), _int_str(bld["number"]), "幢")
        on_bld = inc["bld"] >= 0
        on_road = inc["side"] >= 0
        road_name = _take(
            a["road_names"],
            a["blk_side_name"][inc["blk"], np.maximum(inc["side"], 0)],
        )
        blk_place = _take(list(place), inc["blk"])
        spot_label = _take(
            [HOTSPOT_LABEL[k] for k in inc["spot_kind"]] + [""],
            np.where(inc["spot"] >= 0, inc["spot"], len(inc["spot_kind"])),
        )
        loc = pc.if_else(
            pa.array(on_bld),
            bld_names.take(pa.array(np.maximum(inc["bld"], 0))),
            pc.if_else(
                pa.array(on_road),
                _join(road_name, "（", blk_place, "旁）"),
                _join(blk_place, spot_label),
            ),
        )
        description = _join(loc, phrase)

        times, active = inc["times"], inc["active"]
        inc_df = pd.DataFrame(
            {
                "id": np.arange(1, n + 1, dtype=np.int64),
                "category_code": _str(np.array(codes, dtype=object)[inc["cat"]]),
                "source": _str(np.array(SOURCES, dtype=object)[inc["source"]]),
                "description": _str(description),
                "state": _str(inc["state"]),
                "reported_at": _times(times[:, 0]),
                "deadline": _times(inc["deadline"]),
                "closed_at": _times(inc["closed"]),
                "assignee_id": assignee,
                "reporter_username": _str(reporter),
                "rating": pd.array(np.where(inc["rating"] > 0, inc["rating"], None), dtype="Int64"),
            }
        )
        self.layers["incident"] = gpd.GeoDataFrame(
            inc_df, geometry=shapely.points(_lonlat(inc["xy"])), crs=WGS84
        )

        # events: every active step in order; the rejection replaces registration
        rows, steps = np.nonzero(active)
        to_state = np.array(PATH, dtype=object)[steps]
        rej = inc["rejected"][rows] & (steps == 1)
        to_state[rej] = "rejected"
        first = np.r_[True, rows[1:] != rows[:-1]][: len(rows)]
        from_state = np.empty(len(rows), dtype=object)
        from_state[1:] = to_state[:-1]
        from_state[first] = None
        src = inc["source"][rows]
        worker_u = grid_worker_user[rows]
        staff_u = staff[rows]
        reporter_u = reporter[rows].astype(object)
        actor = np.full(len(rows), "system", dtype=object)
        first_actor = np.where(src == 2, "system", reporter_u)
        actor[steps == 0] = first_actor[steps == 0]
        staff_step = np.isin(steps, [1, 2, 6, 9, 10])
        actor[staff_step] = staff_u[staff_step]
        work_step = np.isin(steps, [3, 5, 7, 8])
        actor[work_step] = worker_u[work_step]
        rate_app = (steps == 11) & (src == 1)
        actor[rate_app] = reporter_u[rate_app]
        m = len(rows)
        note = np.full(m, None, dtype=object)
        note[(steps == 0) & (src == 2)] = "12345热线转办"
        note[rej] = np.array(REJECT_NOTES, dtype=object)[rng.integers(0, 3, rej.sum())]
        ret = steps == 6
        note[ret] = np.array(RETURN_NOTES, dtype=object)[rng.integers(0, 2, ret.sum())]
        note[steps == 4] = "超期督办"
        res_step = np.isin(steps, [5, 8])
        note[res_step] = np.array(RESOLVE_NOTES, dtype=object)[rng.integers(0, 3, res_step.sum())]
        note[(steps == 11) & (src == 2)] = "12345回访评价"
        self.layers["incident_event"] = pd.DataFrame(
            {
                "incident_id": (rows + 1).astype(np.int64),
                "from_state": _str(from_state),
                "to_state": _str(to_state),
                "at": _times(times[rows, steps]),
                "actor": _str(actor),
                "note": _str(note),
            }
        )


def generate_district(
    households: int = 20_000,
    seed: int = 42,
    *,
    progress: bool = True,
    incidents_per_household: float = 0.3,
    months: int = 6,
    end: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a sample district with exactly ``households`` households.

    Parameters
    ----------
    households
        Number of households (户); communities, grids, buildings and everything else
        scale with it (about 1,900 households per community).
    seed
        Seed of ``numpy.random.default_rng``; the output is deterministic for
        ``(households, seed, end)`` and the other arguments.
    progress
        Show a tqdm progress bar.
    incidents_per_household
        Incidents over the whole window per household.
    months
        Length of the incident window, in calendar months ending at ``end``.
    end
        End of the incident window (naive times are Asia/Shanghai); defaults to the start
        of the current hour by :mod:`gis.clock`, so that the district's cases are of today.
        Pass a fixed end (e.g. :data:`DEFAULT_END`) for output that does not depend on the
        day it is made.

    Returns
    -------
    dict of str to pandas.DataFrame
        The layers in :data:`LAYERS` order: GeoDataFrames in EPSG:4326 (geometry column
        ``geometry``) for admin_area, grid, building, facility, shelter, road_node,
        road_edge and incident; plain DataFrames for the others.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    district = _District(
        households=int(households),
        rng=np.random.default_rng(seed),
        end=_end_timestamp(end),
        months=int(months),
        incidents_per_household=float(incidents_per_household),
    )
    stages = (
        district.layout,
        district.grids,
        district.estates,
        district.buildings,
        district.households_,
        district.residents,
        district.identities,
        district.facilities,
        district.roads,
        district.people,
        district.incidents,
        district.frames,
    )
    with tqdm(total=len(stages), desc="sample district", disable=not progress) as bar:
        for name, stage in zip(STEPS, stages, strict=True):
            bar.set_postfix_str(name)
            stage()
            bar.update()
    return {name: district.layers[name] for name in LAYERS}
